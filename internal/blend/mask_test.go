package blend

import (
	"image"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// naiveMorph is erosion/dilation by visiting the disc, with 0 beyond the
// edges: the definition Erode and Dilate must match exactly.
func naiveMorph(m *image.Gray, r int, erode bool) *image.Gray {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	out := image.NewGray(m.Rect)
	for y := range h {
		for x := range w {
			v := m.Pix[y*m.Stride+x]
			for dy := -r; dy <= r; dy++ {
				for dx := -r; dx <= r; dx++ {
					if dx*dx+dy*dy > r*r+r {
						continue
					}
					var q uint8
					if xx, yy := x+dx, y+dy; xx >= 0 && yy >= 0 && xx < w && yy < h {
						q = m.Pix[yy*m.Stride+xx]
					}
					if erode {
						v = min(v, q)
					} else {
						v = max(v, q)
					}
				}
			}
			out.Pix[y*out.Stride+x] = v
		}
	}
	return out
}

func TestErodeDilateMatchDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	// A real soft mask plus noise, at an odd size that exercises the block
	// edges of the running min/max.
	_, hull := faceCrop(t, "franck_f0000", 61)
	m := image.NewGray(image.Rect(3, 5, 3+61, 5+47)) // offset bounds
	for y := range 47 {
		for x := range 61 {
			v := int(hull.Pix[y*hull.Stride+x]) + rng.IntN(61) - 30
			m.Pix[y*m.Stride+x] = uint8(max(0, min(255, v)))
		}
	}
	// The plain hull too: morph works on its non-zero part only.
	for _, m := range []*image.Gray{m, hull} {
		for _, r := range []int{1, 2, 3, 5, 8, 13} {
			for _, erode := range []bool{true, false} {
				got, want := morph(m, r, erode), naiveMorph(m, r, erode)
				if got.Rect != m.Rect {
					t.Fatalf("bounds %v, want %v", got.Rect, m.Rect)
				}
				for y := range m.Rect.Dy() {
					if g, w := rowGray(got, y), rowGray(want, y); string(g) != string(w) {
						t.Errorf("r=%d erode=%v: row %d is %v, want %v", r, erode, y, g, w)
						break
					}
				}
			}
		}
	}
}

func TestErodeDilateAreaOfDisc(t *testing.T) {
	const size, rad = 128, 40.0
	m := discMask(size, size, 63.5, 63.5, rad)
	for _, r := range []int{2, 5, 10} {
		ea, da := maskSum(Erode(m, r)), maskSum(Dilate(m, r))
		// A digital disc of radius R has about π(R+½)² pixels with this
		// structuring element; allow a pixel's width of ring.
		wantE, wantD := math.Pi*(rad-float64(r))*(rad-float64(r)), math.Pi*(rad+float64(r))*(rad+float64(r))
		t.Logf("r=%d: eroded area %.0f (π(R−r)² = %.0f), dilated %.0f (π(R+r)² = %.0f)", r, ea, wantE, da, wantD)
		if math.Abs(ea-wantE) > 2*math.Pi*(rad-float64(r)) {
			t.Errorf("r=%d: eroded disc has area %.0f, want %.0f ± a ring", r, ea, wantE)
		}
		if math.Abs(da-wantD) > 2*math.Pi*(rad+float64(r)) {
			t.Errorf("r=%d: dilated disc has area %.0f, want %.0f ± a ring", r, da, wantD)
		}
	}
}

func TestErodeDilateMonotone(t *testing.T) {
	_, m := faceCrop(t, "astronaut", 128)
	prevE, prevD := m, m
	for r := 1; r <= 12; r += 3 {
		e, d := Erode(m, r), Dilate(m, r)
		for i := range m.Pix {
			if e.Pix[i] > prevE.Pix[i] || d.Pix[i] < prevD.Pix[i] {
				t.Fatalf("r=%d: pixel %d: erode %d (was %d), dilate %d (was %d): not monotone",
					r, i, e.Pix[i], prevE.Pix[i], d.Pix[i], prevD.Pix[i])
			}
		}
		if maskSum(e) >= maskSum(prevE) || maskSum(d) <= maskSum(prevD) {
			t.Errorf("r=%d: areas %.0f and %.0f did not move from %.0f and %.0f",
				r, maskSum(e), maskSum(d), maskSum(prevE), maskSum(prevD))
		}
		prevE, prevD = e, d
	}
	if c := Erode(m, 0); maskSum(c) != maskSum(m) || &c.Pix[0] == &m.Pix[0] {
		t.Error("Erode(m, 0) is not a copy")
	}
}

func TestErodeReachesFromCropEdge(t *testing.T) {
	full := image.NewGray(image.Rect(0, 0, 20, 10))
	for i := range full.Pix {
		full.Pix[i] = 255
	}
	e := Erode(full, 2)
	// Beyond the crop is 0, so the full mask loses a 2-pixel frame.
	if got := maskSum(e); got != 16*6 {
		t.Errorf("eroded full 20×10 mask has area %v, want 96", got)
	}
	if d := Dilate(image.NewGray(image.Rect(0, 0, 5, 5)), 3); maskSum(d) != 0 {
		t.Error("dilating an empty mask painted something")
	}
}

func TestFeatherSmoothAndAreaPreserving(t *testing.T) {
	_, soft := faceCrop(t, "franck_f0000", 128)
	m := threshold(soft)
	for _, r := range []int{3, 6, 12} {
		f := Feather(m, r)
		// The steepest step of a Gaussian-blurred straight edge is
		// 255/(σ√(2π)); a hull corner is no steeper.
		sigma := float64(r) / 3
		limit := 255/(sigma*math.Sqrt(2*math.Pi)) + 1
		step := 0
		for y := range 128 {
			for x := range 128 {
				v := int(f.Pix[y*f.Stride+x])
				if x > 0 {
					step = max(step, abs(v-int(f.Pix[y*f.Stride+x-1])))
				}
				if y > 0 {
					step = max(step, abs(v-int(f.Pix[(y-1)*f.Stride+x])))
				}
			}
		}
		area, before := maskSum(f), maskSum(m)
		t.Logf("r=%d: largest step %d levels (limit %.1f), area %.1f → %.1f", r, step, limit, before, area)
		if float64(step) > limit {
			t.Errorf("r=%d: step of %d levels between neighbours, want ≤ %.1f", r, step, limit)
		}
		// Blurring moves weight across the edge but keeps it (the face is
		// well inside the crop, so none is lost beyond the border).
		if math.Abs(area-before) > 0.005*before {
			t.Errorf("r=%d: area %.1f → %.1f, want within 0.5%%", r, before, area)
		}
		// Farther than r from the edge nothing changes.
		far := Erode(m, r+1)
		out := Dilate(m, r+1)
		for i := range m.Pix {
			if far.Pix[i] == 255 && f.Pix[i] < 254 || out.Pix[i] == 0 && f.Pix[i] > 1 {
				t.Fatalf("r=%d: pixel %d is %d beyond the feather's reach", r, i, f.Pix[i])
			}
		}
	}
}

func TestFeatherMatchesDefinition(t *testing.T) {
	// A direct Gaussian convolution in float64, zeros beyond the edges, on
	// a real mask whose support reaches the crop edge on one side.
	_, hull := faceCrop(t, "astronaut", 64)
	m := cloneGray(hull)
	for y := range 64 {
		for x := 0; x < 6; x++ {
			m.Pix[y*m.Stride+x] = 255
		}
	}
	for _, r := range []int{1, 4, 9} {
		got := Feather(m, r)
		sigma := float64(r) / 3
		k := make([]float64, 2*r+1)
		var sum float64
		for i := range k {
			k[i] = math.Exp(-float64((i-r)*(i-r)) / (2 * sigma * sigma))
			sum += k[i]
		}
		worst := 0.0
		for y := range 64 {
			for x := range 64 {
				var v float64
				for dy := -r; dy <= r; dy++ {
					for dx := -r; dx <= r; dx++ {
						if xx, yy := x+dx, y+dy; xx >= 0 && yy >= 0 && xx < 64 && yy < 64 {
							v += k[dx+r] * k[dy+r] / (sum * sum) * float64(m.Pix[yy*m.Stride+xx])
						}
					}
				}
				worst = math.Max(worst, math.Abs(v-float64(got.Pix[y*got.Stride+x])))
			}
		}
		if worst > 1 {
			t.Errorf("r=%d: Feather is %.2f levels from the exact blur, want ≤ 1", r, worst)
		}
	}
	// Huge radii are cheap and sane: the disc is capped, the blur flattens.
	if e := Erode(m, 1<<20); maskSum(e) != 0 {
		t.Errorf("Erode by a huge radius left area %v", maskSum(e))
	}
	if d := Dilate(m, 1<<20); maskSum(d) != 64*64 {
		t.Errorf("Dilate by a huge radius gave area %v, want the whole 64×64", maskSum(d))
	}
}

func TestFeatherMatchesAlignHullFeather(t *testing.T) {
	// Feather(r) is documented as the softness of align.Feather(2r): a hard
	// hull blurred here and a hull feathered exactly by align agree along
	// the edges. At the hull's corners they differ by design (align's ramp
	// is erf of the distance to the hull, a blur rounds a corner off more),
	// so the test bounds the typical difference, not the largest.
	hard, soft := featheredHullPair(t, 128, 6)
	f := Feather(hard, 6)
	var diffs []int
	for i := range f.Pix {
		if f.Pix[i]%255 != 0 || soft.Pix[i]%255 != 0 { // on either ramp
			diffs = append(diffs, abs(int(f.Pix[i])-int(soft.Pix[i])))
		}
	}
	sort.Ints(diffs)
	med, p90, worst := diffs[len(diffs)/2], diffs[len(diffs)*9/10], diffs[len(diffs)-1]
	t.Logf("Feather(hull, 6) vs align.HullMask(Feather(12)) over %d ramp pixels: median %d, 90th percentile %d, max %d levels",
		len(diffs), med, p90, worst)
	if med > 1 || p90 > 4 {
		t.Errorf("median %d, 90th percentile %d levels, want ≤ 1 and ≤ 4", med, p90)
	}
}

func TestCombineMasks(t *testing.T) {
	a := image.NewGray(image.Rect(0, 0, 3, 1))
	b := image.NewGray(image.Rect(4, 4, 7, 5)) // same size, other place
	copy(a.Pix, []uint8{0, 128, 255})
	copy(b.Pix, []uint8{255, 128, 64})
	for _, c := range []struct {
		name string
		fn   func(a, b *image.Gray) (*image.Gray, error)
		want []uint8
	}{
		{"Intersect", Intersect, []uint8{0, 128, 64}},
		{"Union", Union, []uint8{255, 128, 255}},
		{"Multiply", Multiply, []uint8{0, 64, 64}},
	} {
		got, err := c.fn(a, b)
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Pix) != string(c.want) || got.Rect != a.Rect {
			t.Errorf("%s = %v at %v, want %v at %v", c.name, got.Pix, got.Rect, c.want, a.Rect)
		}
		if _, err := c.fn(a, image.NewGray(image.Rect(0, 0, 3, 2))); err == nil || err.Error() != "blend: mask b is 3x2 but mask a is 3x1" {
			t.Errorf("%s of mismatched masks: %v", c.name, err)
		}
		if _, err := c.fn(nil, b); err == nil || err.Error() != "blend: mask a is nil" {
			t.Errorf("%s of nil: %v", c.name, err)
		}
	}
}

func TestMaskVerbsOnNil(t *testing.T) {
	// Single-image verbs never fail: nil and empty masks give empty masks.
	for _, m := range []*image.Gray{nil, image.NewGray(image.Rectangle{})} {
		if !Erode(m, 3).Rect.Empty() || !Dilate(m, 3).Rect.Empty() || !Feather(m, 3).Rect.Empty() {
			t.Errorf("verbs on %v gave a non-empty mask", m)
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
