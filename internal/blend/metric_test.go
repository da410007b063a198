package blend

import (
	"image"
	"image/color"
	"math"
	"testing"
)

func TestSeamDifferenceOfAStep(t *testing.T) {
	// Left half (100, 120, 140), right half 30 levels brighter, mask on the
	// left half: every edge pixel sees the full 30-level step.
	img := image.NewRGBA(image.Rect(0, 0, 20, 10))
	mask := image.NewGray(img.Rect)
	for y := range 10 {
		for x := range 20 {
			c := color.RGBA{100, 120, 140, 255}
			if x >= 10 {
				c = color.RGBA{130, 150, 170, 255}
			} else {
				mask.SetGray(x, y, color.Gray{200})
			}
			img.SetRGBA(x, y, c)
		}
	}
	got, err := SeamDifference(img, mask)
	if err != nil || math.Abs(got-30) > 1e-9 {
		t.Errorf("SeamDifference = %v, %v; want 30", got, err)
	}
	// Mask covering everything or nothing: no edge, no seam.
	for _, v := range []uint8{0, 255} {
		for i := range mask.Pix {
			mask.Pix[i] = v
		}
		if got, err := SeamDifference(img, mask); got != 0 || err != nil {
			t.Errorf("mask all %d: %v, %v; want 0", v, got, err)
		}
	}
	if _, err := SeamDifference(img, image.NewGray(image.Rect(0, 0, 2, 2))); err == nil || err.Error() != "blend: mask is 2x2 but img is 20x10" {
		t.Errorf("mismatched mask: %v", err)
	}
	if _, err := SeamDifference(nil, mask); err == nil || err.Error() != "blend: img is nil" {
		t.Errorf("nil img: %v", err)
	}
}

func TestSeamDifferenceOfARealPaste(t *testing.T) {
	// A face pasted with a colour offset has a seam of about that offset on
	// top of the frame's own structure.
	dst, hull := faceCrop(t, "franck_f1000", 128)
	mask := Erode(threshold(hull), 8)
	base, _ := SeamDifference(dst, mask)
	brighter := shiftColors(dst, [3]float64{1, 1, 1}, [3]float64{24, 24, 24})
	pasted, _ := Alpha(dst, brighter, mask)
	got, _ := SeamDifference(pasted, mask)
	t.Logf("seam: frame %.2f, frame with its face 24 levels brighter %.2f", base, got)
	if got < base+12 || got > base+24 {
		t.Errorf("24-level offset gives seam %.2f over a frame's %.2f, want between +12 and +24", got, base)
	}
}

func TestRegionFlicker(t *testing.T) {
	a, hull := faceCrop(t, "astronaut", 64)
	b := shiftColors(a, [3]float64{1, 1, 1}, [3]float64{6, -3, 0}) // mean |Δ| = (6+3+0)/3 = 3 where nothing clips
	got, err := RegionFlicker(a, b, Erode(hull, 2))
	if err != nil || math.Abs(got-3) > 0.05 {
		t.Errorf("RegionFlicker = %v, %v; want 3", got, err)
	}
	if same, _ := RegionFlicker(a, a, nil); same != 0 {
		t.Errorf("RegionFlicker(a, a) = %v, want 0", same)
	}
	if empty, _ := RegionFlicker(a, b, image.NewGray(a.Rect)); empty != 0 {
		t.Errorf("empty mask: %v, want 0", empty)
	}
	if _, err := RegionFlicker(a, image.NewRGBA(image.Rect(0, 0, 3, 3)), nil); err == nil || err.Error() != "blend: cur is 3x3 but prev is 64x64" {
		t.Errorf("mismatched frames: %v", err)
	}
}

func TestFlickerOfRealVideoFace(t *testing.T) {
	// Two real frames 500 apart: the face region changes far more than a
	// frame does against itself, and the number lands in a plausible range.
	a, hull := faceCrop(t, "franck_f0000", 128)
	b, _ := faceCrop(t, "franck_f0500", 128)
	got, err := RegionFlicker(a, b, hull)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("aligned face change between frames 0 and 500: %.2f levels", got)
	if got < 2 || got > 40 {
		t.Errorf("flicker %.2f levels between two different frames, want 2..40", got)
	}
}
