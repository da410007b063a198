package plot

import (
	"image"
	"image/color"
	"math"
	"slices"
	"testing"
)

func countColour(img *image.RGBA, c color.RGBA) int {
	n := 0
	for y := img.Rect.Min.Y; y < img.Rect.Max.Y; y++ {
		for x := img.Rect.Min.X; x < img.Rect.Max.X; x++ {
			if img.RGBAAt(x, y) == c {
				n++
			}
		}
	}
	return n
}

// A falling log-scale curve: drawn inside the plot area, left high and
// right low, in its colour; a second series in its own.
func TestLinesDrawsSeries(t *testing.T) {
	var a, b Series
	a.Name, a.Color, b.Name, b.Color = "loss A", Blue, "loss B", Orange
	for i := 1; i <= 1000; i++ {
		a.X, a.Y = append(a.X, float64(i)), append(a.Y, 1/float64(i))
		b.X, b.Y = append(b.X, float64(i)), append(b.Y, 0.5/math.Sqrt(float64(i)))
	}
	img := Lines([]Series{a, b}, Options{Width: 640, Height: 400, LogY: true, Title: "LOSS", XLabel: "STEP"})
	if img.Bounds() != image.Rect(0, 0, 640, 400) {
		t.Fatalf("bounds %v", img.Bounds())
	}
	area := image.Rect(marginL, marginT, 640-marginR, 400-marginB)
	// The series' pixels, outside the legend.
	var top, bottom []int // y of the blue curve in the left and right tenth
	for y := area.Min.Y + 20; y < area.Max.Y; y++ {
		for x := area.Min.X; x < area.Max.X; x++ {
			if img.RGBAAt(x, y) != Blue {
				continue
			}
			if x < area.Min.X+area.Dx()/10 {
				top = append(top, y)
			} else if x > area.Max.X-area.Dx()/10 {
				bottom = append(bottom, y)
			}
		}
	}
	if len(top) == 0 || len(bottom) == 0 {
		t.Fatalf("blue curve not found at both ends (%d, %d pixels)", len(top), len(bottom))
	}
	// 1/x over three decades spans the whole log axis: starts near the top,
	// ends near the bottom.
	if slices.Min(top) > area.Min.Y+area.Dy()/5 || slices.Max(bottom) < area.Max.Y-area.Dy()/5 {
		t.Errorf("1/x on a log axis: left end at y ≥ %d, right end at y ≤ %d in %v", slices.Min(top), slices.Max(bottom), area)
	}
	if countColour(img, Orange) < 200 {
		t.Error("second series hardly drawn")
	}
	for y := 0; y < img.Rect.Max.Y; y++ {
		for x := 0; x < img.Rect.Max.X; x++ {
			if c := img.RGBAAt(x, y); (c == Blue || c == Orange) && !(image.Point{x, y}).In(area) {
				t.Fatalf("series pixel at (%d, %d) outside the plot area %v", x, y, area)
			}
		}
	}
}

func TestLinesWithoutData(t *testing.T) {
	img := Lines([]Series{{Name: "empty"}, {Name: "nan", X: []float64{1}, Y: []float64{math.NaN()}}}, Options{LogY: true})
	if img.Bounds() != image.Rect(0, 0, 800, 480) || countColour(img, black) == 0 {
		t.Error("an empty chart must still draw its frame and message")
	}
	// One point, or a flat line, must not divide by a zero range.
	img = Lines([]Series{{Name: "one", Color: Red, X: []float64{5, 6}, Y: []float64{0.3, 0.3}}}, Options{})
	if countColour(img, Red) == 0 {
		t.Error("flat series not drawn")
	}
}

func TestTicks(t *testing.T) {
	if got, want := linearTicks(0, 1000, 5), []float64{0, 200, 400, 600, 800, 1000}; !slices.Equal(got, want) {
		t.Errorf("linear ticks 0–1000: %v, want %v", got, want)
	}
	if got, want := logTicks(math.Log10(0.015), math.Log10(0.9)), []float64{0.02, 0.05, 0.1, 0.2, 0.5}; !slices.Equal(got, want) {
		t.Errorf("log ticks 0.015–0.9: %v, want %v", got, want)
	}
	got := logTicks(math.Log10(0.15), math.Log10(0.45))
	if len(got) != 3 || math.Abs(got[0]-0.2) > 1e-12 || math.Abs(got[1]-0.3) > 1e-12 || math.Abs(got[2]-0.4) > 1e-12 {
		t.Errorf("log ticks within one decade: %v, want 0.2 0.3 0.4", got)
	}
	for v, want := range map[float64]string{0: "0", 250: "250", 20000: "20K", 0.05: "0.05", 0.123456: "0.123", 1e-5: "1e-05"} {
		if got := formatTick(v); got != want {
			t.Errorf("formatTick(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestText(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 100, 20))
	Text(img, 1, 1, "a1", Red, 2)
	// At scale 2 each set cell is 4 pixels: 'A' has 18 set cells, '1' 10.
	if n := countColour(img, Red); n != (18+10)*4 {
		t.Errorf("%d red pixels, want %d", n, (18+10)*4)
	}
	if TextWidth("a1", 2) != 22 || TextHeight(2) != 14 {
		t.Errorf("text metrics %d×%d", TextWidth("a1", 2), TextHeight(2))
	}
}

// TestL1History: a loss.png of the agreed size for an empty history and a
// full one, and the curve is drawn only when there are points.
func TestL1History(t *testing.T) {
	empty := L1History("NOTHING YET", nil, nil)
	full := L1History("NOTHING YET", []float64{1, 2, 3}, []float64{0.5, 0.2, 0.1})
	for _, img := range []*image.RGBA{empty, full} {
		if img.Rect.Dx() != 800 || img.Rect.Dy() != 480 {
			t.Fatalf("size %v, want 800x480", img.Rect)
		}
	}
	blue := func(img *image.RGBA) int {
		n := 0
		for i := 0; i < len(img.Pix); i += 4 {
			if img.Pix[i] == Blue.R && img.Pix[i+1] == Blue.G && img.Pix[i+2] == Blue.B {
				n++
			}
		}
		return n
	}
	if b := blue(full); b <= blue(empty)+50 {
		t.Errorf("the curve draws %d blue pixels, the empty plot %d", b, blue(empty))
	}
}
