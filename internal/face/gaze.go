package face

import (
	"image"
	"math"
	"slices"
)

// Gaze is where a face's eyes look, measured as the iris centre's offset
// from the middle of the eye opening, averaged over both eyes, in eye
// widths (corner to corner): X along the eye's axis (toward the image's
// right), Y across it (down). Looking straight at the camera is near 0,0;
// a glance to the side moves X by about 0.1.
type Gaze struct{ X, Y float64 }

// EyeFrame is one eye's own coordinates: origin at the middle of its six
// landmarks, X along the line from its outer-left corner to its
// right corner (image orientation), unit length the eye's width.
type EyeFrame struct {
	Center Point
	Axis   Point // unit vector along the eye, left corner to right corner
	Width  float64
}

// Eyes gives the frames of the image-left eye (points 36–41) and the
// image-right eye (42–47) of 68 landmarks.
func Eyes(pts []Point) [2]EyeFrame {
	var out [2]EyeFrame
	for k, first := range [2]int{36, 42} {
		e := pts[first : first+6]
		a, b := e[0], e[3]
		w := math.Max(dist(a, b), 1e-9)
		out[k] = EyeFrame{Center: Centroid(e), Axis: Point{(b.X - a.X) / w, (b.Y - a.Y) / w}, Width: w}
	}
	return out
}

// Local is p in the eye's coordinates.
func (e EyeFrame) Local(p Point) (u, v float64) {
	dx, dy := p.X-e.Center.X, p.Y-e.Center.Y
	return (dx*e.Axis.X + dy*e.Axis.Y) / e.Width, (-dx*e.Axis.Y + dy*e.Axis.X) / e.Width
}

// Global is the image point at eye coordinates (u, v).
func (e EyeFrame) Global(u, v float64) Point {
	return Point{
		X: e.Center.X + (u*e.Axis.X-v*e.Axis.Y)*e.Width,
		Y: e.Center.Y + (u*e.Axis.Y+v*e.Axis.X)*e.Width,
	}
}

// minIrisEye is the narrowest eye (pixels, corner to corner) whose iris
// FindIrises will look for: below it the iris is a few pixels and its
// centre is noise.
const minIrisEye = 10

// FindIrises finds the centre of each eye's iris in img, for a face with
// 68 landmarks pts (image coordinates): the darkness-weighted centroid of
// the pixels inside the eye's outline, its inner part, where the iris
// and pupil are the darkest thing and the lashes and lid shadows are
// mostly left out. ok is false when an eye is too small or closed (its
// opening under a sixth of its width), or its inside has no contrast.
func FindIrises(img *image.Gray, pts []Point) (irises [2]Point, ok bool) {
	if len(pts) != NumLandmarks {
		return irises, false
	}
	if EyeOpening(pts) < 1.0/6 {
		return irises, false
	}
	for k, e := range Eyes(pts) {
		if e.Width < minIrisEye {
			return irises, false
		}
		first := 36 + 6*k
		// The outline in eye coordinates, shrunk toward the middle so
		// the lid edges and lashes stay out.
		var poly [6]Point
		for i := range 6 {
			u, v := e.Local(pts[first+i])
			poly[i] = Point{0.8 * u, 0.6 * v}
		}
		r := e.Width * 0.6
		x0, x1 := int(math.Floor(e.Center.X-r)), int(math.Ceil(e.Center.X+r))
		y0, y1 := int(math.Floor(e.Center.Y-r)), int(math.Ceil(e.Center.Y+r))
		type px struct {
			u, v float64
			l    uint8
		}
		var in []px
		for y := max(y0, img.Rect.Min.Y); y <= min(y1, img.Rect.Max.Y-1); y++ {
			for x := max(x0, img.Rect.Min.X); x <= min(x1, img.Rect.Max.X-1); x++ {
				u, v := e.Local(Point{float64(x), float64(y)})
				if InPolygon(poly[:], u, v) {
					in = append(in, px{u, v, img.GrayAt(x, y).Y})
				}
			}
		}
		if len(in) < 8 {
			return irises, false
		}
		ls := make([]uint8, len(in))
		for i, p := range in {
			ls[i] = p.l
		}
		slices.Sort(ls)
		// Pixels darker than the eye's median count by how much darker:
		// the sclera and skin get nothing, the pupil the most.
		median := float64(ls[len(ls)/2])
		if median-float64(ls[len(ls)/10]) < 8 {
			return irises, false
		}
		var su, sv, sw float64
		for _, p := range in {
			w := math.Max(median-float64(p.l), 0)
			w *= w
			su, sv, sw = su+w*p.u, sv+w*p.v, sw+w
		}
		irises[k] = e.Global(su/sw, sv/sw)
	}
	return irises, true
}

// FindGaze measures the gaze of a face (see Gaze and FindIrises).
func FindGaze(img *image.Gray, pts []Point) (Gaze, bool) {
	irises, ok := FindIrises(img, pts)
	if !ok {
		return Gaze{}, false
	}
	return GazeOf(pts, irises), true
}

// GazeOf is the gaze that irises at the given centres show in a face with
// landmarks pts.
func GazeOf(pts []Point, irises [2]Point) Gaze {
	var g Gaze
	for k, e := range Eyes(pts) {
		u, v := e.Local(irises[k])
		g.X += u / 2
		g.Y += v / 2
	}
	return g
}

// InPolygon tells whether (x, y) lies inside the polygon (even-odd rule;
// a point on an edge may count either way).
func InPolygon(poly []Point, x, y float64) bool {
	in := false
	for i, j := 0, len(poly)-1; i < len(poly); j, i = i, i+1 {
		a, b := poly[i], poly[j]
		if (a.Y > y) != (b.Y > y) && x < a.X+(y-a.Y)*(b.X-a.X)/(b.Y-a.Y) {
			in = !in
		}
	}
	return in
}
