package stats

import (
	"math"
	"testing"
)

func TestPearson(t *testing.T) {
	a := []float64{1, 2, 3, 4, 5}
	for _, c := range []struct {
		b    []float64
		want float64
	}{
		{[]float64{2, 4, 6, 8, 10}, 1},
		{[]float64{5, 4, 3, 2, 1}, -1},
		{[]float64{1, 3, 2, 5, 4}, 0.8},
		{[]float64{7, 7, 7, 7, 7}, 0}, // constant: no correlation, not NaN
		{[]float64{1}, 0},             // one pair
		{[]float64{2, 4, 6}, 1},       // common prefix
	} {
		if got := Pearson(a, c.b); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Pearson(%v, %v) = %v, want %v", a, c.b, got, c.want)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		v    []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := Median(c.v); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.v, got, c.want)
		}
	}
	v := []float64{3, 1, 2}
	Median(v)
	if v[0] != 3 {
		t.Error("Median sorted its input")
	}
}
