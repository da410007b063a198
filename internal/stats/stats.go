// Package stats holds the few summary statistics facesynth's measurements
// share (lip sync, blink rates, benchmark medians), so that every test and
// report computes them the same way.
package stats

import (
	"math"
	"sort"
)

// Pearson is the correlation coefficient of a and b over their common
// length. It is 0, not NaN, when there are fewer than two pairs or either
// series is constant: no evidence of correlation must never pass a bound.
func Pearson(a, b []float64) float64 {
	n := min(len(a), len(b))
	if n < 2 {
		return 0
	}
	var ma, mb float64
	for i := 0; i < n; i++ {
		ma += a[i]
		mb += b[i]
	}
	ma, mb = ma/float64(n), mb/float64(n)
	var sab, saa, sbb float64
	for i := 0; i < n; i++ {
		sab += (a[i] - ma) * (b[i] - mb)
		saa += (a[i] - ma) * (a[i] - ma)
		sbb += (b[i] - mb) * (b[i] - mb)
	}
	if saa == 0 || sbb == 0 {
		return 0
	}
	return sab / math.Sqrt(saa*sbb)
}

// Median is the middle value of v (the mean of the two middle ones for an
// even count; 0 for none). v is not changed.
func Median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	switch {
	case len(s) == 0:
		return 0
	case len(s)%2 == 1:
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
