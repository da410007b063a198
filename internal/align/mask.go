package align

import (
	"image"
	"math"
	"sort"

	"github.com/facesynth/facesynth/internal/face"
)

type maskOptions struct {
	browLift float64
	grow     float64
	feather  float64
}

// MaskOption adjusts HullMask.
type MaskOption func(*maskOptions)

// BrowLift sets how far the eyebrow points are moved toward the forehead
// before the hull is taken, as a fraction of the distance from the brows to
// the base of the nose (default 0.5). The 68 landmarks stop at the brows, so
// without the lift a mask would cut the forehead off just above them.
func BrowLift(frac float64) MaskOption {
	return func(o *maskOptions) {
		if !math.IsNaN(frac) && !math.IsInf(frac, 0) {
			o.browLift = frac
		}
	}
}

// Dilate grows the mask outward by px pixels (a negative px erodes).
// Repeated Dilate and Erode options add up.
func Dilate(px float64) MaskOption {
	return func(o *maskOptions) {
		if !math.IsNaN(px) && !math.IsInf(px, 0) {
			o.grow += px
		}
	}
}

// Erode shrinks the mask inward by px pixels; Erode(px) is Dilate(-px).
func Erode(px float64) MaskOption { return Dilate(-px) }

// Feather softens the edge as a Gaussian blur with a kernel px pixels wide
// would (σ = px/6): the mask ramps from 0 to 255 over about px pixels,
// centred on the (dilated or eroded) hull edge. Without it the edge is only
// anti-aliased over one pixel.
func Feather(px float64) MaskOption {
	return func(o *maskOptions) {
		if px > 0 && !math.IsInf(px, 0) {
			o.feather = px
		}
	}
}

// HullMask draws a w×h mask (255 inside, 0 outside) of the convex hull of a
// face's landmarks, given in the mask's pixel coordinates (image or crop
// space). For a 68-point shape the eyebrows are first lifted toward the
// forehead (BrowLift), along the face's own up direction so that tilted
// faces get a tilted mask; any other number of points gives the plain hull
// of those points. Fewer than three points, or an empty size, give an empty
// mask.
//
// The mask is computed from the signed distance to the hull, so dilating,
// eroding and feathering are exact (a Gaussian-blurred straight edge is an
// erf of the distance) and cost the same as a hard edge; only the hull's
// bounding box, widened by the feather, is visited.
func HullMask(pts []face.Point, w, h int, opts ...MaskOption) *image.Gray {
	o := maskOptions{browLift: 0.5}
	for _, fn := range opts {
		fn(&o)
	}
	out := image.NewGray(image.Rect(0, 0, max(w, 0), max(h, 0)))
	if len(pts) == face.NumLandmarks {
		pts = liftBrows(pts, o.browLift)
	}
	hull := convexHull(pts)
	if len(hull) < 3 || w <= 0 || h <= 0 {
		return out
	}
	sigma := o.feather / 6
	reach := o.grow + 4*sigma + 1
	minX, minY, maxX, maxY := hull[0].X, hull[0].Y, hull[0].X, hull[0].Y
	for _, p := range hull {
		minX, maxX = math.Min(minX, p.X), math.Max(maxX, p.X)
		minY, maxY = math.Min(minY, p.Y), math.Max(maxY, p.Y)
	}
	clip := func(v float64, hi int) int { return int(math.Max(0, math.Min(v, float64(hi)))) }
	x0, x1 := clip(math.Floor(minX-reach), w), clip(math.Ceil(maxX+reach)+1, w)
	y0, y1 := clip(math.Floor(minY-reach), h), clip(math.Ceil(maxY+reach)+1, h)
	edges := hullEdges(hull)
	// Beyond band pixels from the edge the mask is exactly 0 or 255 (erfc
	// of 4σ rounds to 0 in 8 bits), so only the band needs erfc, and the
	// exact outside distance is only needed near the hull.
	band := math.Max(4*sigma, 1)
	parallel(y1-y0, x1-x0, func(r0, r1 int) {
		for y := y0 + r0; y < y0+r1; y++ {
			row := out.Pix[y*out.Stride:]
			for x := x0; x < x1; x++ {
				line := lineDistance(edges, float64(x), float64(y))
				if line-o.grow >= band {
					continue // far outside: a lower bound of the distance is enough
				}
				d := line
				if line > 0 {
					d = outsideDistance(edges, float64(x), float64(y))
				}
				d -= o.grow
				switch {
				case d <= -band:
					row[x] = 255
				case d >= band:
				case sigma > 0:
					row[x] = uint8(math.Round(255 * 0.5 * math.Erfc(d/(sigma*math.Sqrt2))))
				default:
					row[x] = uint8(math.Round(255 * math.Max(0, math.Min(1, 0.5-d))))
				}
			}
		}
	})
	return out
}

// liftBrows moves the brow points (17–26) along the face's up direction,
// perpendicular to the line through the eye centres, by frac times the
// brows' height above the nose base (point 33).
func liftBrows(pts []face.Point, frac float64) []face.Point {
	l, r := EyeCentres(pts)
	ex, ey := r.X-l.X, r.Y-l.Y
	n := math.Hypot(ex, ey)
	if n == 0 || frac == 0 {
		return pts
	}
	// Image y points down, so "up" is the eye vector turned a quarter turn
	// counter-clockwise on screen: (ey, -ex).
	ux, uy := ey/n, -ex/n
	brows := face.Centroid(pts[17:27])
	dist := (brows.X-pts[33].X)*ux + (brows.Y-pts[33].Y)*uy
	if dist <= 0 {
		return pts // a shape with the brows below the nose: leave it alone
	}
	out := make([]face.Point, len(pts))
	copy(out, pts)
	for i := 17; i <= 26; i++ {
		out[i].X += frac * dist * ux
		out[i].Y += frac * dist * uy
	}
	return out
}

// convexHull is Andrew's monotone chain; the hull comes out counter-clockwise
// in a y-up frame (clockwise on screen), without repeated or collinear points.
func convexHull(pts []face.Point) []face.Point {
	ps := make([]face.Point, 0, len(pts))
	for _, p := range pts {
		if !math.IsNaN(p.X) && !math.IsNaN(p.Y) && !math.IsInf(p.X, 0) && !math.IsInf(p.Y, 0) {
			ps = append(ps, p)
		}
	}
	if len(ps) < 3 {
		return nil
	}
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].X != ps[j].X {
			return ps[i].X < ps[j].X
		}
		return ps[i].Y < ps[j].Y
	})
	cross := func(o, a, b face.Point) float64 { return (a.X-o.X)*(b.Y-o.Y) - (a.Y-o.Y)*(b.X-o.X) }
	hull := make([]face.Point, 0, 2*len(ps))
	for _, p := range ps {
		for len(hull) >= 2 && cross(hull[len(hull)-2], hull[len(hull)-1], p) <= 0 {
			hull = hull[:len(hull)-1]
		}
		hull = append(hull, p)
	}
	lower := len(hull) + 1
	for i := len(ps) - 2; i >= 0; i-- {
		p := ps[i]
		for len(hull) >= lower && cross(hull[len(hull)-2], hull[len(hull)-1], p) <= 0 {
			hull = hull[:len(hull)-1]
		}
		hull = append(hull, p)
	}
	hull = hull[:len(hull)-1]
	if len(hull) < 3 {
		return nil // all points on one line
	}
	return hull
}

// edge is one hull side from a to b with its outward unit normal n.
type edge struct {
	a, b   face.Point
	nx, ny float64
	dx, dy float64 // b - a
	lenSq  float64
}

func hullEdges(hull []face.Point) []edge {
	es := make([]edge, len(hull))
	for i, a := range hull {
		b := hull[(i+1)%len(hull)]
		dx, dy := b.X-a.X, b.Y-a.Y
		l := math.Hypot(dx, dy)
		// The hull runs counter-clockwise in (x, y), so the interior is to
		// the left of each edge and the outward normal is (dy, -dx).
		es[i] = edge{a: a, b: b, nx: dy / l, ny: -dx / l, dx: dx, dy: dy, lenSq: l * l}
	}
	return es
}

// lineDistance is the largest signed distance from (x, y) to the lines of
// the hull's sides. Inside the convex hull it is minus the distance to the
// boundary; outside it is positive and at most the true distance.
func lineDistance(es []edge, x, y float64) float64 {
	d := math.Inf(-1)
	for _, e := range es {
		// A plain comparison: math.Max is not inlined and dominated the cost.
		if v := e.nx*(x-e.a.X) + e.ny*(y-e.a.Y); v > d {
			d = v
		}
	}
	return d
}

// outsideDistance is the distance from (x, y) to the nearest side.
func outsideDistance(es []edge, x, y float64) float64 {
	best := math.Inf(1)
	for _, e := range es {
		t := ((x-e.a.X)*e.dx + (y-e.a.Y)*e.dy) / e.lenSq
		t = math.Max(0, math.Min(1, t))
		best = math.Min(best, math.Hypot(x-e.a.X-t*e.dx, y-e.a.Y-t*e.dy))
	}
	return best
}
