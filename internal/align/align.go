package align

import (
	"math"

	"github.com/facesynth/facesynth/internal/face"
)

//go:generate go run ./gen -o canonical_gen.go

// Canonical is the canonical mean face: 68 points in the unit square, upright
// and mirror-symmetric, with room for the forehead and a margin around the
// face (the face, hairline to chin, fills 80% of the side). It is dlib's
// mean shape, regenerated into canonical_gen.go by `go generate`.
func Canonical() []face.Point {
	out := make([]face.Point, face.NumLandmarks)
	copy(out, canonicalFace[:])
	return out
}

// CanonicalEyes are the centres of the two eyes (the mean of each eye's six
// points, image-left eye first) in the unit square of Canonical.
func CanonicalEyes() (left, right face.Point) {
	return EyeCentres(canonicalFace[:])
}

// EyeCentres are the centres of the two eyes of a 68-point shape (image-left
// first). It returns zero points for a shape with fewer than 68 points.
func EyeCentres(pts []face.Point) (left, right face.Point) {
	if len(pts) < face.NumLandmarks {
		return face.Point{}, face.Point{}
	}
	return face.Centroid(pts[36:42]), face.Centroid(pts[42:48])
}

// innerPoints are the landmarks ToCrop fits by default: brows, nose, eyes and
// mouth (17–67). The jaw line is left out because it moves with speech and
// with head turns while the face itself does not.
var innerPoints = func() []int {
	idx := make([]int, 0, face.NumLandmarks-17)
	for i := 17; i < face.NumLandmarks; i++ {
		idx = append(idx, i)
	}
	return idx
}()

type options struct {
	coverage float64
	allPts   bool
}

// Option adjusts ToCrop.
type Option func(*options)

// Coverage sets how much of the canonical square the crop shows, as
// faceswap's "coverage": 1 (the default) shows exactly the canonical square,
// 0.75 zooms in on its central 75% (a tighter face), 1.25 zooms out. Values
// that are not positive are ignored.
func Coverage(c float64) Option {
	return func(o *options) {
		if c > 0 && !math.IsInf(c, 0) {
			o.coverage = c
		}
	}
}

// AllLandmarks fits all 68 points, jaw included, instead of the inner 51.
func AllLandmarks() Option { return func(o *options) { o.allPts = true } }

// ToCrop is the transform from image pixels to an aligned size×size crop:
// the least-squares similarity that puts the face's landmarks onto
// Canonical, scaled to the crop. It returns the zero Transform (Valid false)
// when pts is not a 68-point shape or size is not positive.
func ToCrop(pts []face.Point, size int, opts ...Option) Transform {
	o := options{coverage: 1}
	for _, fn := range opts {
		fn(&o)
	}
	if len(pts) != face.NumLandmarks || size <= 0 {
		return Transform{}
	}
	dst := CanonicalIn(size, opts...)
	idx := innerPoints
	if o.allPts {
		idx = nil
	}
	return umeyama(pts, dst, idx)
}

// CanonicalIn is Canonical placed in a size×size crop with ToCrop's options:
// where ToCrop sends a face's landmarks to.
func CanonicalIn(size int, opts ...Option) []face.Point {
	o := options{coverage: 1}
	for _, fn := range opts {
		fn(&o)
	}
	return canonicalToCrop(size, o.coverage).ApplyAll(canonicalFace[:])
}

// canonicalToCrop maps the unit square onto the crop's pixel area: the
// square [0,1]² covers the pixels edge to edge, [-0.5, size-0.5]², and
// coverage zooms about its centre.
func canonicalToCrop(size int, coverage float64) Transform {
	s := float64(size) / coverage
	off := float64(size)/2 - 0.5 - s/2
	return Transform{A: s, C: off, E: s, F: off}
}

// BoxFromShape is the square detection box, in dlib's convention, that dlib's
// shape predictor would have started from to produce pts: the box that puts
// the predictor's mean shape closest to pts (least squares over position and
// size, no rotation, as dlib's boxes are upright). A tracker uses it to
// re-run the predictor in the next frame where the face was. It returns the
// zero Box when pts is not a 68-point shape.
func BoxFromShape(pts []face.Point) face.Box {
	if len(pts) != face.NumLandmarks {
		return face.Box{}
	}
	// dlib maps the normalised shape into a box by (0,0) → (Left, Top) and
	// (1,1) → (Right, Bottom) with Right, Bottom inclusive, so the scale is
	// Right-Left, one less than the box's width.
	m := dlibMeanShape[:]
	mm, pm := face.Centroid(m), face.Centroid(pts)
	var num, den float64
	for i := range m {
		mx, my := m[i].X-mm.X, m[i].Y-mm.Y
		num += mx*(pts[i].X-pm.X) + my*(pts[i].Y-pm.Y)
		den += mx*mx + my*my
	}
	s := num / den
	l, t := pm.X-s*mm.X, pm.Y-s*mm.Y
	return face.Box{Left: l, Top: t, Right: l + s, Bottom: t + s}
}
