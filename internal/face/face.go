// Package face holds the plain values that flow between face detection,
// landmarking, alignment and tracking: boxes, points and faces.
//
// Coordinates are pixels of the original image, x to the right and y down,
// with pixel centres on integers (dlib's convention). Landmark order is
// dlib's 0-based iBUG 300-W 68-point order: 0–16 jaw, 17–26 brows, 27–35 nose,
// 36–47 eyes (36 and 45 are the outer corners), 48–67 mouth.
package face

import (
	"image"
	"image/draw"
	"math"
)

// NumLandmarks is the number of points of the iBUG 300-W markup.
const NumLandmarks = 68

// Point is a sub-pixel position in image coordinates.
type Point struct{ X, Y float64 }

// Box is an axis-aligned face box in dlib's convention: Right and Bottom are
// inclusive, so the width is Right-Left+1. Detectors that are not dlib's
// report boxes calibrated to this convention, because the shape predictor
// was trained on dlib's boxes and is sensitive to where the box sits.
type Box struct{ Left, Top, Right, Bottom float64 }

// Width is Right-Left+1 (inclusive, as dlib's rectangle).
func (b Box) Width() float64 { return b.Right - b.Left + 1 }

// Height is Bottom-Top+1 (inclusive, as dlib's rectangle).
func (b Box) Height() float64 { return b.Bottom - b.Top + 1 }

// Center is the box's centre point.
func (b Box) Center() Point { return Point{(b.Left + b.Right) / 2, (b.Top + b.Bottom) / 2} }

// IoU is the intersection over union of two boxes.
func (b Box) IoU(o Box) float64 {
	l, t := math.Max(b.Left, o.Left), math.Max(b.Top, o.Top)
	r, btm := math.Min(b.Right, o.Right), math.Min(b.Bottom, o.Bottom)
	if r < l || btm < t {
		return 0
	}
	inter := (r - l + 1) * (btm - t + 1)
	return inter / (b.Width()*b.Height() + o.Width()*o.Height() - inter)
}

// Face is one detected face: its box, the detector's score, the in-plane
// rotation the detector found it at (radians, positive = clockwise in image
// coordinates), its 68 landmarks when they have been placed, and a track id
// that stays the same for the same person across the frames of a video
// (0 for a still image).
type Face struct {
	Box       Box
	Score     float64
	Angle     float64
	Landmarks []Point
	Track     int
}

// EyeDistance is the distance between the outer eye corners (points 36 and
// 45), the scale that landmark errors are reported against.
func EyeDistance(pts []Point) float64 {
	if len(pts) < NumLandmarks {
		return 0
	}
	return math.Hypot(pts[45].X-pts[36].X, pts[45].Y-pts[36].Y)
}

// Gray converts an image to the intensity plane dlib's shape predictor reads
// from an RGB image: (r+g+b)/3 with integer division. Both the detector and
// the landmark predictor take this plane, so it is computed once per frame.
func Gray(img image.Image) *image.Gray {
	b := img.Bounds()
	g := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	var rgba *image.RGBA
	switch m := img.(type) {
	case *image.RGBA:
		rgba = m
	case *image.NRGBA:
		// Opaque NRGBA (the usual decoded PNG) has the same bytes as RGBA.
		rgba = &image.RGBA{Pix: m.Pix, Stride: m.Stride, Rect: m.Rect}
	default:
		rgba = image.NewRGBA(b)
		draw.Draw(rgba, b, img, b.Min, draw.Src)
	}
	for y := 0; y < b.Dy(); y++ {
		src := rgba.Pix[(y+b.Min.Y-rgba.Rect.Min.Y)*rgba.Stride+(b.Min.X-rgba.Rect.Min.X)*4:]
		dst := g.Pix[y*g.Stride : y*g.Stride+b.Dx()]
		for x := range dst {
			p := src[x*4 : x*4+3 : x*4+3]
			dst[x] = uint8((int(p[0]) + int(p[1]) + int(p[2])) / 3)
		}
	}
	return g
}

// Largest is the face with the widest box (the main subject of a photo),
// or false when there is none.
func Largest(fs []Face) (Face, bool) {
	if len(fs) == 0 {
		return Face{}, false
	}
	best := fs[0]
	for _, f := range fs[1:] {
		if f.Box.Width() > best.Box.Width() {
			best = f
		}
	}
	return best, true
}
