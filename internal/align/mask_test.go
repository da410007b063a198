package align

import (
	"math"
	"testing"

	"github.com/facesynth/facesynth/internal/face"
)

func sum255(pix []uint8) float64 {
	var s float64
	for _, v := range pix {
		s += float64(v)
	}
	return s / 255
}

func TestHullMaskSquare(t *testing.T) {
	// A 40×40 square given as scattered points, one inside: the hull is
	// the square, the area is 1600, dilation adds perimeter·r + πr².
	sq := []face.Point{pt(20, 20), pt(60, 20), pt(60, 60), pt(20, 60), pt(40, 40), pt(40, 20)}
	hard := HullMask(sq, 100, 100)
	if a := sum255(hard.Pix); math.Abs(a-1600) > 2 {
		t.Errorf("area %.1f, want 1600", a)
	}
	if hard.GrayAt(40, 40).Y != 255 || hard.GrayAt(10, 10).Y != 0 || hard.GrayAt(61, 40).Y != 0 {
		t.Error("inside/outside wrong")
	}
	grown := HullMask(sq, 100, 100, Dilate(5))
	if a, want := sum255(grown.Pix), 1600+160*5+math.Pi*25; math.Abs(a-want) > 4 {
		t.Errorf("dilated area %.1f, want %.1f", a, want)
	}
	shrunk := HullMask(sq, 100, 100, Erode(5))
	if a := sum255(shrunk.Pix); math.Abs(a-900) > 2 {
		t.Errorf("eroded area %.1f, want 900", a)
	}
	// Feathering keeps the area along the straight sides (the blur is
	// symmetric about the edge) and puts half intensity on the edge; only the
	// rounded outside of the corners adds a little (≈ 1% here).
	soft := HullMask(sq, 100, 100, Feather(12))
	if a := sum255(soft.Pix); math.Abs(a-1600) > 20 {
		t.Errorf("feathered area %.1f, want ≈ 1600", a)
	}
	if v := soft.GrayAt(40, 20).Y; v < 120 || v > 136 {
		t.Errorf("edge value %d, want ≈ 128", v)
	}
	if v := soft.GrayAt(40, 20+6).Y; v < 250 {
		t.Errorf("value a full feather inside the edge %d, want ≈ 255", v)
	}
	if v := soft.GrayAt(40, 20-6).Y; v > 5 {
		t.Errorf("value a full feather outside the edge %d, want ≈ 0", v)
	}
}

func TestHullMaskFaceLiftsBrows(t *testing.T) {
	pts := referenceShape(t, "franck_f0000")
	plain := HullMask(pts, 360, 288, BrowLift(0))
	lifted := HullMask(pts, 360, 288)
	for i, p := range pts {
		if v := lifted.GrayAt(int(math.Round(p.X)), int(math.Round(p.Y))).Y; v < 128 {
			t.Errorf("landmark %d at %v not in the mask (%d)", i, p, v)
		}
	}
	// Mid-forehead, above the brows: covered only with the lift. Brows are
	// around y=98..129 in this frame; the nose base is at y=154.
	forehead := face.Point{X: (pts[21].X + pts[22].X) / 2, Y: math.Min(pts[21].Y, pts[22].Y) - 12}
	if plain.GrayAt(int(forehead.X), int(forehead.Y)).Y != 0 {
		t.Errorf("forehead %v already in the plain hull", forehead)
	}
	if lifted.GrayAt(int(forehead.X), int(forehead.Y)).Y != 255 {
		t.Errorf("forehead %v not in the lifted hull", forehead)
	}
	ap, al := sum255(plain.Pix), sum255(lifted.Pix)
	t.Logf("face mask area %.0f px plain, %.0f px with brows lifted", ap, al)
	if al < ap*1.1 || al > ap*1.4 {
		t.Errorf("lift grows the area %.0f → %.0f, want 10–40%%", ap, al)
	}
}

func TestHullMaskBadInput(t *testing.T) {
	if m := HullMask([]face.Point{pt(1, 1), pt(5, 5)}, 10, 10); sum255(m.Pix) != 0 {
		t.Error("two points give a non-empty mask")
	}
	if m := HullMask([]face.Point{pt(1, 1), pt(2, 2), pt(3, 3)}, 10, 10); sum255(m.Pix) != 0 {
		t.Error("collinear points give a non-empty mask")
	}
	if m := HullMask([]face.Point{pt(1, 1), pt(8, 1), pt(3, 8)}, -1, 10); m.Rect.Dx() != 0 {
		t.Error("negative width")
	}
	nan := []face.Point{pt(1, 1), pt(8, 1), pt(3, 8), pt(math.NaN(), 2)}
	if m := HullMask(nan, 10, 10); sum255(m.Pix) < 10 {
		t.Error("a NaN point spoils the mask")
	}
}

func BenchmarkHullMask256(b *testing.B) {
	pts := referenceShape(b, "franck_f0000")
	crop := ToCrop(pts, 256).ApplyAll(pts)
	for range b.N {
		HullMask(crop, 256, 256, Erode(8), Feather(16))
	}
}

func pt(x, y float64) face.Point { return face.Point{X: x, Y: y} }
