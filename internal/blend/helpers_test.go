package blend

import (
	"image"
	"math"
	"testing"

	"github.com/facesynth/facesynth/internal/align"
	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/testmedia"
)

// faceCrop is the aligned size×size crop of the first reference face of a
// sample image and the hull mask of its landmarks in crop space, as the
// converter makes them.
func faceCrop(t testing.TB, stem string, size int) (*image.RGBA, *image.Gray) {
	t.Helper()
	img, err := media.LoadImage(testmedia.Path(t, stem+".png"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := face.ReadImageResult(testmedia.Reference(t, stem+".json"))
	if err != nil {
		t.Fatal(err)
	}
	f := face.FromJSON(res.Faces[0])
	tr := align.ToCrop(f.Landmarks, size)
	return align.Crop(img, tr, size), align.HullMask(tr.ApplyAll(f.Landmarks), size, size)
}

// shiftColors changes every pixel's colour by an affine map per channel,
// the kind of lighting and white-balance change a face generator makes.
func shiftColors(img *image.RGBA, gain, offset [3]float64) *image.RGBA {
	out := cloneRGBA(img)
	for i := 0; i < len(out.Pix); i += 4 {
		for c := range 3 {
			out.Pix[i+c] = uint8(math.Max(0, math.Min(255, math.Round(float64(out.Pix[i+c])*gain[c]+offset[c]))))
		}
	}
	return out
}

// threshold turns a mask into 0/255 at 128.
func threshold(m *image.Gray) *image.Gray {
	out := cloneGray(m)
	for i, v := range out.Pix {
		if v >= 128 {
			out.Pix[i] = 255
		} else {
			out.Pix[i] = 0
		}
	}
	return out
}

// maskSum is a mask's area in pixels (the sum of its weights over 255).
func maskSum(m *image.Gray) float64 {
	var s float64
	for y := 0; y < m.Rect.Dy(); y++ {
		for _, v := range rowGray(m, y) {
			s += float64(v)
		}
	}
	return s / 255
}

// maxPixelDiff is the largest difference of any channel between two images
// of the same size.
func maxPixelDiff(a, b *image.RGBA) int {
	d := 0
	for y := 0; y < a.Rect.Dy(); y++ {
		ra, rb := rowRGBA(a, y), rowRGBA(b, y)
		for i := range ra {
			d = max(d, int(absDiff(ra[i], rb[i])))
		}
	}
	return d
}

// discMask is a w×h mask with a disc of radius rad at (cx, cy).
func discMask(w, h int, cx, cy, rad float64) *image.Gray {
	m := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			if math.Hypot(float64(x)-cx, float64(y)-cy) <= rad {
				m.Pix[y*m.Stride+x] = 255
			}
		}
	}
	return m
}

// featheredHullPair is franck_f0000's hull mask in a size×size crop, hard
// and feathered by align over 2r pixels.
func featheredHullPair(t testing.TB, size, r int) (hard, soft *image.Gray) {
	t.Helper()
	res, err := face.ReadImageResult(testmedia.Reference(t, "franck_f0000.json"))
	if err != nil {
		t.Fatal(err)
	}
	pts := face.FromJSON(res.Faces[0]).Landmarks
	pts = align.ToCrop(pts, size).ApplyAll(pts)
	return align.HullMask(pts, size, size), align.HullMask(pts, size, size, align.Feather(float64(2*r)))
}
