package blend

import (
	"image"
	"image/color"
	"math"
	"testing"
)

func TestLabRoundTrip(t *testing.T) {
	initTables()
	worst := 0
	for r := 0; r < 256; r += 3 {
		for g := 0; g < 256; g += 3 {
			for b := 0; b < 256; b += 3 {
				l, la, lb := toLab(uint8(r), uint8(g), uint8(b))
				r2, g2, b2 := fromLab(l, la, lb)
				worst = max(worst, int(absDiff(uint8(r), r2)), int(absDiff(uint8(g), g2)), int(absDiff(uint8(b), b2)))
			}
		}
	}
	if worst > 0 {
		t.Errorf("sRGB → Lab → sRGB changes a level by up to %d, want 0", worst)
	}
}

func TestLabKnownColours(t *testing.T) {
	initTables()
	// CIE Lab (D65) of sRGB primaries and white, as colour references list them.
	for _, c := range []struct {
		r, g, b uint8
		want    [3]float64
	}{
		{255, 255, 255, [3]float64{100, 0, 0}},
		{0, 0, 0, [3]float64{0, 0, 0}},
		{255, 0, 0, [3]float64{53.24, 80.09, 67.20}},
		{0, 255, 0, [3]float64{87.73, -86.18, 83.18}},
		{0, 0, 255, [3]float64{32.30, 79.19, -107.86}},
		{128, 128, 128, [3]float64{53.59, 0, 0}},
	} {
		l, a, b := toLab(c.r, c.g, c.b)
		got := [3]float64{float64(l), float64(a), float64(b)}
		for i := range 3 {
			if math.Abs(got[i]-c.want[i]) > 0.02 {
				t.Errorf("Lab(%d,%d,%d) = %.3f, want %.2f", c.r, c.g, c.b, got, c.want)
				break
			}
		}
	}
}

func TestStatsOfUniformColour(t *testing.T) {
	img := image.NewRGBA(image.Rect(10, 20, 50, 40)) // not at the origin on purpose
	for y := 20; y < 40; y++ {
		for x := 10; x < 50; x++ {
			img.Set(x, y, color.RGBA{200, 150, 120, 255})
		}
	}
	s := Stats(img, nil)
	initTables()
	l, a, b := toLab(200, 150, 120)
	want := [3]float64{float64(l), float64(a), float64(b)}
	for c := range 3 {
		if math.Abs(s.Mean[c]-want[c]) > 1e-3 || s.Std[c] > 1e-2 {
			t.Errorf("channel %d: mean %.4f std %.4f, want %.4f and 0", c, s.Mean[c], s.Std[c], want[c])
		}
	}
	if s.Weight != 800 {
		t.Errorf("Weight = %v, want 800 pixels", s.Weight)
	}
	// Half the mask at 255, half at 0: half the weight, same statistics.
	m := image.NewGray(image.Rect(0, 0, 40, 20))
	for i := 0; i < len(m.Pix)/2; i++ {
		m.Pix[i] = 255
	}
	if h := Stats(img, m); math.Abs(h.Weight-400) > 1e-6 || math.Abs(h.Mean[0]-want[0]) > 1e-3 {
		t.Errorf("half mask: weight %v mean L %.3f, want 400 and %.3f", h.Weight, h.Mean[0], want[0])
	}
	if z := Stats(img, image.NewGray(image.Rect(0, 0, 40, 20))); z != (LabStats{}) {
		t.Errorf("empty mask: %+v, want zero LabStats", z)
	}
	if z := Stats(img, image.NewGray(image.Rect(0, 0, 4, 2))); z != (LabStats{}) {
		t.Errorf("mask of the wrong size: %+v, want zero LabStats", z)
	}
}

// colourShift is the change a generated face typically arrives with: a
// warmer, darker, lower-contrast rendering of the target.
var (
	shiftGain   = [3]float64{0.85, 0.95, 1.1}
	shiftOffset = [3]float64{25, -5, -20}
)

func TestMatchColorReinhardRecoversMean(t *testing.T) {
	orig, mask := faceCrop(t, "franck_f0000", 128)
	shifted := shiftColors(orig, shiftGain, shiftOffset)
	want := Stats(orig, mask)
	before := Stats(shifted, mask)
	got, err := MatchColor(shifted, orig, mask, Reinhard)
	if err != nil {
		t.Fatal(err)
	}
	after := Stats(got, mask)
	for c, name := range []string{"L", "a", "b"} {
		t.Logf("%s: original mean %.3f std %.3f, shifted %.3f/%.3f, matched %.3f/%.3f",
			name, want.Mean[c], want.Std[c], before.Mean[c], before.Std[c], after.Mean[c], after.Std[c])
		// Rounding to 8 bits and clipping at 0 and 255 are all that can
		// move the statistics off the target (by about 0.005 here).
		if d := math.Abs(after.Mean[c] - want.Mean[c]); d > 0.05 {
			t.Errorf("%s mean off by %.3f after matching, want ≤ 0.05", name, d)
		}
		if d := math.Abs(after.Std[c] - want.Std[c]); d > 0.05 {
			t.Errorf("%s std off by %.3f after matching, want ≤ 0.05", name, d)
		}
	}
	if d := math.Abs(before.Mean[0] - want.Mean[0]); d < 3 {
		t.Fatalf("the shift moved L by only %.2f: the test would prove nothing", d)
	}
	// The pixels themselves come back close: the shift is affine in RGB,
	// not in Lab, so not exactly.
	errBefore, errAfter := meanAbsDiff(shifted, orig, mask), meanAbsDiff(got, orig, mask)
	t.Logf("mean |pixel − original| inside the mask: shifted %.2f, matched %.2f levels", errBefore, errAfter)
	if errAfter > errBefore/2 {
		t.Errorf("matched face is %.2f levels from the original, want under half of %.2f", errAfter, errBefore)
	}
}

func TestMatchColorHistogramRecoversMean(t *testing.T) {
	orig, mask := faceCrop(t, "franck_f0000", 128)
	shifted := shiftColors(orig, shiftGain, shiftOffset)
	got, err := MatchColor(shifted, orig, mask, Histogram)
	if err != nil {
		t.Fatal(err)
	}
	want, after := Stats(orig, mask), Stats(got, mask)
	for c, name := range []string{"L", "a", "b"} {
		t.Logf("%s: original mean %.2f std %.2f, matched %.2f/%.2f", name, want.Mean[c], want.Std[c], after.Mean[c], after.Std[c])
		if d := math.Abs(after.Mean[c] - want.Mean[c]); d > 0.1 {
			t.Errorf("%s mean off by %.3f after histogram matching, want ≤ 0.1", name, d)
		}
	}
	errBefore, errAfter := meanAbsDiff(shifted, orig, mask), meanAbsDiff(got, orig, mask)
	t.Logf("mean |pixel − original| inside the mask: shifted %.2f, matched %.2f levels", errBefore, errAfter)
	if errAfter > 1.5 {
		t.Errorf("matched face is %.2f levels from the original, want ≤ 1.5", errAfter)
	}
}

func TestMatchColorAcrossFaces(t *testing.T) {
	// The real use: a different person's face takes the target's colours.
	src, srcMask := faceCrop(t, "astronaut", 128)
	ref, refMask := faceCrop(t, "franck_f1000", 128)
	mask, err := Intersect(srcMask, refMask)
	if err != nil {
		t.Fatal(err)
	}
	want := Stats(ref, mask)
	for _, mode := range []ColorMode{Reinhard, Histogram} {
		got, err := MatchColor(src, ref, mask, mode)
		if err != nil {
			t.Fatal(err)
		}
		s := Stats(got, mask)
		t.Logf("%v: mean Lab %.2f, want %.2f (source %.2f)", mode, s.Mean, want.Mean, Stats(src, mask).Mean)
		for c := range 3 {
			if d := math.Abs(s.Mean[c] - want.Mean[c]); d > 0.2 {
				t.Errorf("%v: channel %d mean off by %.2f, want ≤ 0.2", mode, c, d)
			}
		}
	}
}

func TestMatchColorNoneIsIdentity(t *testing.T) {
	src, mask := faceCrop(t, "astronaut", 96)
	ref, _ := faceCrop(t, "franck_f0000", 96)
	got, err := MatchColor(src, ref, mask, None)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxPixelDiff(got, src); d != 0 {
		t.Errorf("None changed a level by %d", d)
	}
	if &got.Pix[0] == &src.Pix[0] {
		t.Error("None returned its input instead of a copy")
	}
}

func TestApplyReinhardSameStatsIsIdentity(t *testing.T) {
	src, mask := faceCrop(t, "astronaut", 128)
	s := Stats(src, mask)
	got := ApplyReinhard(src, s, s)
	if d := maxPixelDiff(got, src); d > 0 {
		t.Errorf("ApplyReinhard(src, s, s) changed a level by %d, want 0", d)
	}
}

func TestApplyReinhardClampsRatio(t *testing.T) {
	face, _ := faceCrop(t, "astronaut", 64)
	// A washed-out face (a tenth of the contrast, around mid-grey) asked to
	// take a 100× wider spread: limited to 4×, and far enough from 0 and
	// 255 that clipping does not hide the limit.
	src := shiftColors(face, [3]float64{0.1, 0.1, 0.1}, [3]float64{110, 110, 110})
	from := Stats(src, nil)
	to := from
	for c := range 3 {
		to.Std[c] *= 100
	}
	got := Stats(ApplyReinhard(src, from, to), nil)
	for c := range 3 {
		if r := got.Std[c] / from.Std[c]; math.Abs(r-maxStdRatio) > 0.3 {
			t.Errorf("channel %d spread grew %.2f×, want %d×", c, r, maxStdRatio)
		}
	}
}

func TestLabStatsLerp(t *testing.T) {
	a := LabStats{Mean: [3]float64{40, 10, 20}, Std: [3]float64{10, 4, 6}, Weight: 100}
	b := LabStats{Mean: [3]float64{60, -10, 0}, Std: [3]float64{20, 8, 2}, Weight: 300}
	if got := a.Lerp(b, 0.25); got.Mean != [3]float64{45, 5, 15} || got.Std != [3]float64{12.5, 5, 5} || got.Weight != 150 {
		t.Errorf("Lerp 0.25 = %+v", got)
	}
	if a.Lerp(b, 0) != a || a.Lerp(b, 1) != b {
		t.Error("Lerp's ends are not its inputs")
	}
}

func TestParseColorMode(t *testing.T) {
	for s, want := range map[string]ColorMode{"none": None, "Reinhard": Reinhard, "hist": Histogram, " histogram ": Histogram} {
		if got, err := ParseColorMode(s); err != nil || got != want {
			t.Errorf("ParseColorMode(%q) = %v, %v, want %v", s, got, err, want)
		}
	}
	for _, m := range []ColorMode{None, Reinhard, Histogram} {
		if got, err := ParseColorMode(m.String()); err != nil || got != m {
			t.Errorf("round trip of %v gives %v, %v", m, got, err)
		}
	}
	if _, err := ParseColorMode("lab"); err == nil || err.Error() != `blend: unknown colour mode "lab" (want none, reinhard or histogram)` {
		t.Errorf("bad mode: %v", err)
	}
}

func TestMatchColorBadInput(t *testing.T) {
	a := image.NewRGBA(image.Rect(0, 0, 8, 8))
	b := image.NewRGBA(image.Rect(0, 0, 8, 9))
	for _, c := range []struct {
		src, ref *image.RGBA
		mask     *image.Gray
		mode     ColorMode
		want     string
	}{
		{nil, a, nil, Reinhard, "blend: src is nil"},
		{a, nil, nil, Reinhard, "blend: ref is nil"},
		{a, b, nil, Reinhard, "blend: ref is 8x9 but src is 8x8"},
		{a, a, image.NewGray(image.Rect(0, 0, 4, 4)), Histogram, "blend: mask is 4x4 but src is 8x8"},
		{a, a, nil, ColorMode(9), "blend: unknown colour mode 9"},
	} {
		got, err := MatchColor(c.src, c.ref, c.mask, c.mode)
		if err == nil || err.Error() != c.want || got != nil {
			t.Errorf("MatchColor: %v, want error %q", err, c.want)
		}
	}
}

// meanAbsDiff is the mask-weighted mean absolute difference over RGB.
func meanAbsDiff(a, b *image.RGBA, mask *image.Gray) float64 {
	d, err := RegionFlicker(a, b, mask)
	if err != nil {
		panic(err)
	}
	return d
}
