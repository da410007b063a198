package warp

import (
	"fmt"
	"math"

	"github.com/facesynth/facesynth/internal/face"
)

// Triangle is three indices into a point list, ordered so that its signed
// area (see orient) is positive in the layout it was triangulated from:
// clockwise on screen, where y points down.
type Triangle [3]int

// Triangulate returns the Delaunay triangulation of pts (Bowyer–Watson).
// Every point takes part except exact duplicates, of which only the first
// is used. It fails on fewer than three distinct points, non-finite
// coordinates, or points that are all on one line.
//
// Bowyer–Watson costs O(n²) here, which is nothing for the hundred or so
// control points of a face mesh; meshes are triangulated once and reused.
func Triangulate(pts []face.Point) ([]Triangle, error) {
	if len(pts) < 3 {
		return nil, fmt.Errorf("warp: triangulate: %d points, need at least 3", len(pts))
	}
	minX, minY := math.Inf(1), math.Inf(1)
	maxX, maxY := math.Inf(-1), math.Inf(-1)
	for i, p := range pts {
		if math.IsNaN(p.X) || math.IsNaN(p.Y) || math.IsInf(p.X, 0) || math.IsInf(p.Y, 0) {
			return nil, fmt.Errorf("warp: triangulate: point %d is not finite (%v)", i, p)
		}
		minX, maxX = math.Min(minX, p.X), math.Max(maxX, p.X)
		minY, maxY = math.Min(minY, p.Y), math.Max(maxY, p.Y)
	}
	// Work in coordinates centred on the points and scaled to about ±1, so
	// that the predicates' rounding does not depend on where in a large
	// image the points sit.
	cx, cy := (minX+maxX)/2, (minY+maxY)/2
	scale := math.Max(maxX-minX, maxY-minY) / 2
	if scale == 0 {
		return nil, fmt.Errorf("warp: triangulate: all %d points coincide", len(pts))
	}
	n := len(pts)
	q := make([]face.Point, n, n+3)
	for i, p := range pts {
		q[i] = face.Point{X: (p.X - cx) / scale, Y: (p.Y - cy) / scale}
	}
	// A super-triangle far outside the points: its circumcircles bulge into
	// the hull by about |edge|²/(8·distance), so at 1e4 half-sizes away they
	// cannot keep a hull edge of the real points out of the result.
	const far = 1e4
	q = append(q, face.Point{X: -far, Y: -far}, face.Point{X: far, Y: -far}, face.Point{X: 0, Y: far})

	tris := []Triangle{positive(q, Triangle{n, n + 1, n + 2})}
	seen := make(map[face.Point]bool, n)
	var edges [][2]int
	var keep []Triangle
	for i := 0; i < n; i++ {
		if seen[pts[i]] {
			continue
		}
		seen[pts[i]] = true
		p := q[i]
		edges = edges[:0]
		keep = keep[:0]
		for _, t := range tris {
			if inCircumcircle(q[t[0]], q[t[1]], q[t[2]], p) {
				edges = append(edges, [2]int{t[0], t[1]}, [2]int{t[1], t[2]}, [2]int{t[2], t[0]})
			} else {
				keep = append(keep, t)
			}
		}
		// The cavity's boundary is the edges that only one removed
		// triangle had; each joins p in a new triangle.
		tris, keep = keep, tris[:0]
		for a, e := range edges {
			shared := false
			for b, f := range edges {
				if a != b && e[0] == f[1] && e[1] == f[0] {
					shared = true
					break
				}
			}
			if !shared {
				tris = append(tris, Triangle{e[0], e[1], i})
			}
		}
	}
	out := tris[:0]
	for _, t := range tris {
		if t[0] >= n || t[1] >= n || t[2] >= n {
			continue
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("warp: triangulate: the %d points are on one line", n)
	}
	return out, nil
}

// positive orders t so that its signed area in q is positive.
func positive(q []face.Point, t Triangle) Triangle {
	if orient(q[t[0]], q[t[1]], q[t[2]]) < 0 {
		t[1], t[2] = t[2], t[1]
	}
	return t
}

// orient is twice the signed area of abc: positive when a→b→c turns
// counter-clockwise in the usual maths picture (y up), which is clockwise
// on screen (y down).
func orient(a, b, c face.Point) float64 {
	return (b.X-a.X)*(c.Y-a.Y) - (b.Y-a.Y)*(c.X-a.X)
}

// inCircumcircle reports whether d lies strictly inside the circle through
// a, b, c, which must have positive orientation. Points on the circle count
// as outside, so four co-circular points (a grid) keep the first
// triangulation found instead of flipping back and forth.
func inCircumcircle(a, b, c, d face.Point) bool {
	ax, ay := a.X-d.X, a.Y-d.Y
	bx, by := b.X-d.X, b.Y-d.Y
	cx, cy := c.X-d.X, c.Y-d.Y
	det := (ax*ax+ay*ay)*(bx*cy-cx*by) - (bx*bx+by*by)*(ax*cy-cx*ay) + (cx*cx+cy*cy)*(ax*by-bx*ay)
	return det > 1e-12
}

// TriangulateConstrained is Triangulate with edges that must be sides of
// triangles: outlines such as the lips and eyelids, so that no triangle
// straddles a feature and a closing mouth or eye collapses only the
// triangles inside it. Each edge is inserted by flipping the edges it
// crosses (Sloan's method); triangles away from the constraints stay
// Delaunay. It fails for an edge whose ends are not distinct points of pts,
// that passes through another point, or that crosses another constrained
// edge.
func TriangulateConstrained(pts []face.Point, edges [][2]int) ([]Triangle, error) {
	tris, err := Triangulate(pts)
	if err != nil || len(edges) == 0 {
		return tris, err
	}
	fixed := make(map[[2]int]bool, 2*len(edges))
	for n, e := range edges {
		a, b := e[0], e[1]
		if a < 0 || b < 0 || a >= len(pts) || b >= len(pts) || pts[a] == pts[b] {
			return nil, fmt.Errorf("warp: constrained edge %v: not two distinct points of %d", e, len(pts))
		}
		for i, p := range pts {
			if i != a && i != b && p != pts[a] && p != pts[b] && onSegment(pts[a], pts[b], p) {
				return nil, fmt.Errorf("warp: constrained edge %v passes through point %d", e, i)
			}
		}
		for _, o := range edges[:n] {
			if o[0] != a && o[0] != b && o[1] != a && o[1] != b && crosses(pts[a], pts[b], pts[o[0]], pts[o[1]]) {
				return nil, fmt.Errorf("warp: constrained edges %v and %v cross", o, e)
			}
		}
		if err := insertEdge(pts, tris, a, b, fixed); err != nil {
			return nil, err
		}
		fixed[[2]int{a, b}], fixed[[2]int{b, a}] = true, true
	}
	return tris, nil
}

// insertEdge makes a–b an edge of tris (in place) by Sloan's (1993)
// method: the edges that cross a–b go in a queue; each is flipped if it is
// the diagonal of a convex quadrilateral and sent to the back of the queue
// otherwise, and a flipped edge that still crosses goes to the back too.
// Taking the edges in turn is what makes this terminate (always flipping
// the first flippable edge can flip one back and forth forever). Edges in
// fixed (earlier constraints) never cross a–b, so they are never flipped.
func insertEdge(pts []face.Point, tris []Triangle, a, b int, fixed map[[2]int]bool) error {
	pa, pb := pts[a], pts[b]
	owner := make(map[[2]int]int, 3*len(tris))
	for i, t := range tris {
		for k := 0; k < 3; k++ {
			owner[[2]int{t[k], t[(k+1)%3]}] = i
		}
	}
	crossing := func(p, q int) bool {
		return p != a && p != b && q != a && q != b && crosses(pa, pb, pts[p], pts[q])
	}
	// The queue in triangle order, not map order: the same points must
	// always give the same mesh.
	var queue [][2]int
	for _, t := range tris {
		for k := 0; k < 3; k++ {
			e := [2]int{t[k], t[(k+1)%3]}
			if e[0] < e[1] && crossing(e[0], e[1]) {
				if fixed[e] {
					return fmt.Errorf("warp: constrained edge %d–%d crosses constrained edge %d–%d", a, b, e[0], e[1])
				}
				queue = append(queue, e)
			}
		}
	}
	third := func(t Triangle, p, q int) int {
		for _, v := range t {
			if v != p && v != q {
				return v
			}
		}
		return -1
	}
	for tries := 0; len(queue) > 0; tries++ {
		if tries > 100*len(tris) {
			return fmt.Errorf("warp: constrained edge %d–%d cannot be inserted", a, b)
		}
		p, q := queue[0][0], queue[0][1]
		queue = queue[1:]
		i, ok1 := owner[[2]int{p, q}]
		j, ok2 := owner[[2]int{q, p}]
		if !ok1 || !ok2 {
			return fmt.Errorf("warp: constrained edge %d–%d: edge %d–%d is on the hull", a, b, p, q)
		}
		// tris[i] runs p→q→r and tris[j] q→p→s; the quadrilateral
		// p, s, q, r must be strictly convex to flip its diagonal.
		r, s := third(tris[i], p, q), third(tris[j], p, q)
		if !(orient(pts[p], pts[s], pts[r]) > 0 && orient(pts[s], pts[q], pts[r]) > 0) {
			queue = append(queue, [2]int{p, q})
			continue
		}
		delete(owner, [2]int{p, q})
		delete(owner, [2]int{q, p})
		tris[i], tris[j] = Triangle{p, s, r}, Triangle{s, q, r}
		for _, k := range [2]int{i, j} {
			t := tris[k]
			for m := 0; m < 3; m++ {
				owner[[2]int{t[m], t[(m+1)%3]}] = k
			}
		}
		if crossing(r, s) {
			queue = append(queue, [2]int{r, s})
		}
	}
	if _, ok := owner[[2]int{a, b}]; !ok {
		if _, ok := owner[[2]int{b, a}]; !ok {
			return fmt.Errorf("warp: constrained edge %d–%d cannot be inserted", a, b)
		}
	}
	return nil
}

// crosses reports whether the open segments ab and pq cross at one point.
func crosses(a, b, p, q face.Point) bool {
	return orient(a, b, p)*orient(a, b, q) < 0 && orient(p, q, a)*orient(p, q, b) < 0
}

// onSegment reports whether p lies on the open segment ab (to rounding).
func onSegment(a, b, p face.Point) bool {
	l := math.Hypot(b.X-a.X, b.Y-a.Y)
	if math.Abs(orient(a, b, p)) > 1e-9*l*l {
		return false
	}
	d := (p.X-a.X)*(b.X-a.X) + (p.Y-a.Y)*(b.Y-a.Y)
	return d > 0 && d < l*l
}
