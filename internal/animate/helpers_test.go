package animate

import (
	"image"
	"sync"
	"testing"

	"github.com/facesynth/facesynth/internal/analyze"
	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/testmedia"
)

var (
	analyzerOnce sync.Once
	analyzer     *analyze.Analyzer
	analyzerErr  error
)

// faces is the analyzer every test shares (the models load once).
func faces(t testing.TB) *analyze.Analyzer {
	t.Helper()
	analyzerOnce.Do(func() { analyzer, analyzerErr = analyze.Default() })
	if analyzerErr != nil {
		t.Fatal(analyzerErr)
	}
	return analyzer
}

// astronaut is the 512×512 photo, its face as the analyzer finds it, and
// an Animator for that face.
func astronaut(t testing.TB) (*image.RGBA, face.Face, *Animator) {
	t.Helper()
	return sample(t, "astronaut.png")
}

// sample is a sample photo, its largest face and an Animator for it.
func sample(t testing.TB, name string) (*image.RGBA, face.Face, *Animator) {
	t.Helper()
	img, err := media.LoadImage(testmedia.Path(t, name))
	if err != nil {
		t.Fatal(err)
	}
	f := largest(t, faces(t).Faces(img))
	a, err := New(img, f)
	if err != nil {
		t.Fatal(err)
	}
	return img, f, a
}

// largest is the biggest detected face: the photo's person, not the
// mission patch that the detector also reports.
func largest(t testing.TB, fs []face.Face) face.Face {
	t.Helper()
	if len(fs) == 0 {
		t.Fatal("no face found")
	}
	best := fs[0]
	for _, f := range fs[1:] {
		if f.Box.Width() > best.Box.Width() {
			best = f
		}
	}
	return best
}

// redetect finds the face again in a rendered frame: the detection nearest
// to where the face was.
func redetect(t testing.TB, img image.Image, near face.Box) []face.Point {
	t.Helper()
	best, bestIoU := []face.Point(nil), 0.3
	for _, f := range faces(t).Faces(img) {
		if v := f.Box.IoU(near); v > bestIoU {
			best, bestIoU = f.Landmarks, v
		}
	}
	if best == nil {
		t.Fatalf("face near %v not found again", near)
	}
	return best
}

// mouthOpening is the inner-lip gap 62↔66 over the outer-eye distance.
func mouthOpening(p []face.Point) float64 { return dist(p[62], p[66]) / face.EyeDistance(p) }

// ear is the mean eye aspect ratio of both eyes (Soukupová and Čech 2016):
// the lids' two vertical distances over the corner-to-corner width.
func ear(p []face.Point) float64 {
	one := func(c0, u1, u2, c1, l2, l1 int) float64 {
		return (dist(p[u1], p[l1]) + dist(p[u2], p[l2])) / (2 * dist(p[c0], p[c1]))
	}
	return (one(36, 37, 38, 39, 40, 41) + one(42, 43, 44, 45, 46, 47)) / 2
}

// differing counts the pixels of a and b (same size) that differ, and
// those among them outside r.
func differing(a, b *image.RGBA, r image.Rectangle) (all, outside int) {
	for y := 0; y < a.Rect.Dy(); y++ {
		for x := 0; x < a.Rect.Dx(); x++ {
			i, j := a.PixOffset(a.Rect.Min.X+x, a.Rect.Min.Y+y), b.PixOffset(b.Rect.Min.X+x, b.Rect.Min.Y+y)
			if [4]uint8(a.Pix[i:i+4]) != [4]uint8(b.Pix[j:j+4]) {
				all++
				if !image.Pt(x, y).In(r) {
					outside++
				}
			}
		}
	}
	return all, outside
}

func luminance(img *image.RGBA, x, y int) float64 {
	c := img.RGBAAt(x, y)
	return 0.299*float64(c.R) + 0.587*float64(c.G) + 0.114*float64(c.B)
}
