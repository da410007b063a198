package blend

import (
	"image"
	"math"
	"testing"
	"time"

	"github.com/facesynth/facesynth/internal/align"
	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/testmedia"
)

// pasteCase is the converter's situation with a known answer: the
// astronaut's face, made warmer and darker (as a generator's output often
// is), to be put onto franck's face, inside franck's hull pulled in so that
// its edge runs over skin.
func pasteCase(t testing.TB, size, feather int) (dst, src *image.RGBA, mask *image.Gray) {
	t.Helper()
	dst, hull := faceCrop(t, "franck_f1000", size)
	face, _ := faceCrop(t, "astronaut", size)
	src = shiftColors(face, [3]float64{0.9, 0.85, 0.8}, [3]float64{30, 5, -10})
	mask = Erode(threshold(hull), size/16)
	if feather > 0 {
		mask = Feather(mask, feather)
	}
	return dst, src, mask
}

func TestPoissonRemovesSeam(t *testing.T) {
	for _, feather := range []int{0, 4} {
		dst, src, mask := pasteCase(t, 128, feather)
		alpha, err := Alpha(dst, src, mask)
		if err != nil {
			t.Fatal(err)
		}
		pois, rep, err := poisson(dst, src, mask, 0, true)
		if err != nil {
			t.Fatal(err)
		}
		sa, _ := SeamDifference(alpha, mask)
		sp, _ := SeamDifference(pois, mask)
		s0, _ := SeamDifference(dst, mask)
		t.Logf("feather %d: seam difference: alpha %.2f, Poisson %.2f, the untouched frame %.2f levels (residual %.3g → %.3g)",
			feather, sa, sp, s0, rep.Initial, rep.Final)
		// The frame's own structure across the edge (hairline, cheek
		// shading) is a floor no blend can go below; what a blend adds on
		// top of it is the seam.
		if sp-s0 > (sa-s0)/5 {
			t.Errorf("feather %d: Poisson adds %.2f levels of seam, want under a fifth of alpha's %.2f", feather, sp-s0, sa-s0)
		}
		if sp > sa/1.8 {
			t.Errorf("feather %d: Poisson seam %.2f levels, want under alpha's %.2f / 1.8", feather, sp, sa)
		}
		// Outside the mask the frame is untouched.
		for i, m := range mask.Pix {
			if m == 0 && [4]uint8(pois.Pix[4*i:]) != [4]uint8(dst.Pix[4*i:]) {
				t.Fatalf("feather %d: pixel %d outside the mask changed", feather, i)
			}
		}
		// Inside, the face's own detail is kept: its gradients are src's.
		if g := gradientError(pois, src, Erode(mask, 3)); g > 2 {
			t.Errorf("feather %d: gradients inside differ from src's by %.2f levels, want ≤ 2", feather, g)
		}
	}
}

func TestPoissonSameImageIsIdentity(t *testing.T) {
	img, hull := faceCrop(t, "astronaut", 128)
	for _, mask := range []*image.Gray{hull, Feather(Erode(hull, 6), 5), nil} {
		got, err := Poisson(img, img, mask, 0)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxPixelDiff(got, img); d > 0 {
			t.Errorf("Poisson(img, img) changed a level by %d, want 0", d)
		}
	}
}

func TestPoissonConvergence(t *testing.T) {
	for _, c := range []struct{ feather, maxCycles int }{{0, 4}, {4, 2}} {
		dst, src, mask := pasteCase(t, 128, c.feather)
		exact, rep, err := poisson(dst, src, mask, 30, true)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("feather %d: %d unknowns, %d levels down to %d cells across; 30 cycles: RMS residual %.3g → %.3g",
			c.feather, rep.Unknowns, rep.Levels, rep.CoarsestW, rep.Initial, rep.Final)
		prevFinal := math.Inf(1)
		for cycles := 1; cycles <= 4; cycles++ {
			got, r, err := poisson(dst, src, mask, cycles, true)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("  %d cycles: RMS residual %.4g (max %.4g) from %.4g, %d levels from the converged result",
				cycles, r.Final, r.MaxFinal, r.Initial, maxPixelDiff(got, exact))
			// Each cycle cuts the residual about fourfold.
			if r.Final > prevFinal/3 {
				t.Errorf("feather %d, %d cycles: residual %.4g, want under a third of %.4g", c.feather, cycles, r.Final, prevFinal)
			}
			prevFinal = r.Final
		}
		got, r, err := poisson(dst, src, mask, 0, true)
		if err != nil {
			t.Fatal(err)
		}
		d := maxPixelDiff(got, exact)
		t.Logf("  until converged: %d cycles, max residual %.3g, %d levels from the converged result", r.Cycles, r.MaxFinal, d)
		if d > 1 || r.Cycles > c.maxCycles || r.MaxFinal > convergedResidual {
			t.Errorf("feather %d: stopped after %d cycles at max residual %.3g, %d levels off; want ≤ %d cycles, ≤ %g, ≤ 1 level",
				c.feather, r.Cycles, r.MaxFinal, d, c.maxCycles, convergedResidual)
		}
	}
}

func TestPoissonSolvesTheDocumentedSystem(t *testing.T) {
	// An independent, slow solution of the system in Poisson's comment
	// (SOR in float64 from dst, run to convergence) on a small crop.
	dst, src, mask := pasteCase(t, 40, 2)
	const w, h = 40, 40
	ref := [3][]float64{}
	for c := range 3 {
		f := make([]float64, w*h)
		for i := range f {
			f[i] = float64(dst.Pix[4*i+c])
		}
		at := func(img *image.RGBA, i int) float64 { return float64(img.Pix[4*i+c]) }
		for range 4000 {
			for y := range h {
				for x := range w {
					p := y*w + x
					if mask.Pix[p] == 0 {
						continue
					}
					var n, sum float64
					for _, q := range [4][2]int{{x - 1, y}, {x + 1, y}, {x, y - 1}, {x, y + 1}} {
						if q[0] < 0 || q[1] < 0 || q[0] >= w || q[1] >= h {
							continue
						}
						qi := q[1]*w + q[0]
						wt := float64(max(mask.Pix[p], mask.Pix[qi])) / 255
						sum += f[qi] + wt*(at(src, p)-at(src, qi)) + (1-wt)*(at(dst, p)-at(dst, qi))
						n++
					}
					f[p] += 1.9 * (sum/n - f[p])
				}
			}
		}
		ref[c] = f
	}
	// Converged, only rounding to 8 bits separates the two; stopping at
	// the default tolerance may add up to half a level more.
	for _, c := range []struct {
		cycles int
		tol    float64
	}{{10, 0.501}, {0, 1}} {
		got, err := Poisson(dst, src, mask, c.cycles)
		if err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for ch := range 3 {
			for i, v := range ref[ch] {
				worst = math.Max(worst, math.Abs(math.Max(0, math.Min(255, v))-float64(got.Pix[4*i+ch])))
			}
		}
		t.Logf("%d cycles: largest difference from the reference solution %.3f levels", c.cycles, worst)
		if worst > c.tol {
			t.Errorf("%d cycles: %.3f levels from the reference solution, want ≤ %.3g", c.cycles, worst, c.tol)
		}
	}
}

func TestAlpha(t *testing.T) {
	dst := image.NewRGBA(image.Rect(0, 0, 3, 1))
	src := image.NewRGBA(image.Rect(5, 5, 8, 6))
	copy(dst.Pix, []uint8{10, 20, 30, 255, 10, 20, 30, 255, 10, 20, 30, 255})
	copy(src.Pix, []uint8{200, 100, 0, 255, 200, 100, 0, 255, 200, 100, 0, 255})
	mask := image.NewGray(image.Rect(0, 0, 3, 1))
	copy(mask.Pix, []uint8{0, 128, 255})
	got, err := Alpha(dst, src, mask)
	if err != nil {
		t.Fatal(err)
	}
	want := []uint8{10, 20, 30, 255, 105, 60, 15, 255, 200, 100, 0, 255}
	if string(got.Pix) != string(want) || got.Rect != dst.Rect {
		t.Errorf("Alpha = %v at %v, want %v at %v", got.Pix, got.Rect, want, dst.Rect)
	}
	if all, _ := Alpha(dst, src, nil); string(all.Pix) != string(src.Pix) {
		t.Errorf("nil mask: %v, want src", all.Pix)
	}
	for _, c := range []struct {
		dst, src *image.RGBA
		mask     *image.Gray
		want     string
	}{
		{nil, src, nil, "blend: dst is nil"},
		{dst, image.NewRGBA(image.Rect(0, 0, 2, 1)), nil, "blend: src is 2x1 but dst is 3x1"},
		{dst, src, image.NewGray(image.Rect(0, 0, 1, 1)), "blend: mask is 1x1 but dst is 3x1"},
	} {
		if _, err := Alpha(c.dst, c.src, c.mask); err == nil || err.Error() != c.want {
			t.Errorf("Alpha: %v, want %q", err, c.want)
		}
		if _, err := Poisson(c.dst, c.src, c.mask, 0); err == nil || err.Error() != c.want {
			t.Errorf("Poisson: %v, want %q", err, c.want)
		}
	}
}

func TestPoissonTinyAndEmpty(t *testing.T) {
	for _, size := range []image.Rectangle{image.Rect(0, 0, 1, 1), image.Rect(0, 0, 2, 1), image.Rect(0, 0, 3, 7), {}} {
		dst, src := image.NewRGBA(size), image.NewRGBA(size)
		for i := range src.Pix {
			src.Pix[i] = 200
		}
		mask := image.NewGray(size)
		for i := range mask.Pix {
			mask.Pix[i] = 255
		}
		got, err := Poisson(dst, src, mask, 0)
		if err != nil || got.Rect != size {
			t.Errorf("%v: %v, %v", size, got.Rect, err)
		}
		// No pixel of dst borders the mask: nothing ties the colour down,
		// so src's own colours stand.
		if size.Dx()*size.Dy() > 0 && got.Pix[0] != 200 {
			t.Errorf("%v: got %d, want src's 200", size, got.Pix[0])
		}
	}
	dst, src, _ := pasteCase(t, 32, 0)
	got, err := Poisson(dst, src, image.NewGray(image.Rect(0, 0, 32, 32)), 0)
	if err != nil || maxPixelDiff(got, dst) != 0 {
		t.Errorf("empty mask: %v, diff %d from dst", err, maxPixelDiff(got, dst))
	}
}

// gradientError is the mean absolute difference between the horizontal and
// vertical pixel differences of a and b, over RGB, where mask is 255.
func gradientError(a, b *image.RGBA, mask *image.Gray) float64 {
	var sum float64
	var n int
	w, h := a.Rect.Dx(), a.Rect.Dy()
	for y := 0; y < h-1; y++ {
		for x := 0; x < w-1; x++ {
			if mask.Pix[y*mask.Stride+x] != 255 {
				continue
			}
			i := y*a.Stride + 4*x
			for c := range 3 {
				for _, o := range []int{4, a.Stride} {
					ga := float64(a.Pix[i+c+o]) - float64(a.Pix[i+c])
					gb := float64(b.Pix[i+c+o]) - float64(b.Pix[i+c])
					sum += math.Abs(ga - gb)
					n++
				}
			}
		}
	}
	return sum / float64(n)
}

func TestConverterPipeline(t *testing.T) {
	// The sequence the package comment shows, on a real frame: a foreign
	// face with a colour cast goes into franck's frame; after pasting, the
	// seam seen in a fresh crop of the frame is near the frame's own, while
	// pasting the raw face leaves a clear one.
	const size = 128
	frame, err := media.LoadImage(testmedia.Path(t, "franck_f1000.png"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := face.ReadImageResult(testmedia.Reference(t, "franck_f1000.json"))
	if err != nil {
		t.Fatal(err)
	}
	pts := face.FromJSON(res.Faces[0]).Landmarks
	tr := align.ToCrop(pts, size)
	orig := align.Crop(frame, tr, size)
	hullMask := align.HullMask(tr.ApplyAll(pts), size, size)
	foreign, modelMask := faceCrop(t, "astronaut", size)
	generated := shiftColors(foreign, [3]float64{0.9, 0.85, 0.8}, [3]float64{30, 5, -10})

	var mask *image.Gray
	var blended *image.RGBA
	pipeline := func() {
		var err error
		if mask, err = Intersect(modelMask, hullMask); err != nil {
			t.Fatal(err)
		}
		mask = Feather(Erode(mask, size/32), size/32)
		matched, err := MatchColor(generated, orig, mask, Reinhard)
		if err != nil {
			t.Fatal(err)
		}
		if blended, err = Poisson(orig, matched, mask, 0); err != nil {
			t.Fatal(err)
		}
	}
	pipeline() // the first call also builds the colour tables
	start := time.Now()
	pipeline()
	elapsed := time.Since(start)

	seamAfterPaste := func(crop *image.RGBA) float64 {
		out := image.NewRGBA(frame.Rect)
		copy(out.Pix, frame.Pix)
		align.Paste(out, crop, mask, tr)
		s, err := SeamDifference(align.Crop(out, tr, size), mask)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base, _ := SeamDifference(orig, mask)
	raw, done := seamAfterPaste(generated), seamAfterPaste(blended)
	t.Logf("seam in the re-cropped frame: untouched %.2f, raw face pasted %.2f, matched+Poisson %.2f levels; blend (warm) took %v",
		base, raw, done, elapsed)
	if done-base > (raw-base)/4 {
		t.Errorf("pipeline adds %.2f levels of seam, want under a quarter of the raw paste's %.2f", done-base, raw-base)
	}
}
