// Package warp deforms images so that chosen points move to new places: a
// Delaunay triangulation of the points, and a piecewise-affine warp that
// maps every pixel of each destination triangle back into the matching
// source triangle and samples it bilinearly.
//
// Points are pixel coordinates relative to the image's Bounds().Min, with
// pixel centres on integers (package face's convention). A warp writes only
// the pixels whose centres lie inside the mesh; to make a local deformation
// (a face) fade into the untouched rest of the picture, surround the moving
// points with fixed anchors from Ring and give the anchors the same place in
// both point lists.
package warp

import (
	"fmt"
	"image"
	"image/draw"
	"math"
	"runtime"
	"sync"

	"github.com/facesynth/facesynth/internal/face"
)

// Mesh is a triangulation of a fixed number of points, made once and used
// for any number of warps between two placements of those points. It is
// read-only after NewMesh, so one Mesh may warp from several goroutines.
type Mesh struct {
	tris []Triangle
	n    int
}

// NewMesh triangulates layout, keeping edges (pairs of indices) as sides
// of triangles (see TriangulateConstrained). The layout fixes only which
// points are joined: warps may then move the points anywhere, and stay
// well-behaved as long as no triangle turns over (see Folded). Choose a
// layout in the middle of the placements you will warp between, such as a
// face with its mouth half open, and constrain feature outlines (lips,
// eyelids), so that closing and opening both keep every triangle the
// right way round.
func NewMesh(layout []face.Point, edges ...[2]int) (*Mesh, error) {
	tris, err := TriangulateConstrained(layout, edges)
	if err != nil {
		return nil, err
	}
	return &Mesh{tris: tris, n: len(layout)}, nil
}

// Len is the number of points the mesh was made for; Warp takes point
// lists of exactly this length.
func (m *Mesh) Len() int { return m.n }

// Triangles returns the mesh's triangles. The slice is shared: do not
// modify it.
func (m *Mesh) Triangles() []Triangle { return m.tris }

// Folded counts the triangles that pts turns over (negative signed area,
// where the layout had it positive). A folded triangle paints over its
// neighbours and leaves a hole elsewhere, so a caller that generates
// target points checks that this is 0. A triangle flattened to no area
// (lips that close) is not folded: it simply covers no pixels. A pts of the
// wrong length counts every triangle.
func (m *Mesh) Folded(pts []face.Point) int {
	if len(pts) != m.n {
		return len(m.tris)
	}
	n := 0
	for _, t := range m.tris {
		if !(orient(pts[t[0]], pts[t[1]], pts[t[2]]) >= 0) {
			n++
		}
	}
	return n
}

// Untangle moves points of to, in place, until no triangle of the mesh is
// folded: a safety net for target points that come from somewhere the
// caller does not control, such as another person's landmarks. Each round,
// every corner of a folded triangle moves its displacement (to − from)
// half way toward the mean displacement of that triangle's corners, so a
// local tangle is smoothed out toward the shape it has in from, and points
// away from it keep their places. Points from index movable on (anchors)
// never move. It gives up after 100 rounds and returns the number of
// triangles still folded: 0 unless from itself has folded triangles where
// the tangle is, or the anchors are part of it.
func (m *Mesh) Untangle(from, to []face.Point, movable int) int {
	if len(from) != m.n || len(to) != m.n {
		return len(m.tris)
	}
	var shift []face.Point
	var count []int
	for round := 0; ; round++ {
		folded := m.Folded(to)
		if folded == 0 || round == 100 {
			return folded
		}
		if shift == nil {
			shift, count = make([]face.Point, m.n), make([]int, m.n)
		}
		clear(shift)
		clear(count)
		for _, t := range m.tris {
			if orient(to[t[0]], to[t[1]], to[t[2]]) >= 0 {
				continue
			}
			var mean face.Point
			for _, i := range t {
				mean.X += (to[i].X - from[i].X) / 3
				mean.Y += (to[i].Y - from[i].Y) / 3
			}
			for _, i := range t {
				shift[i].X += (mean.X - (to[i].X - from[i].X)) / 2
				shift[i].Y += (mean.Y - (to[i].Y - from[i].Y)) / 2
				count[i]++
			}
		}
		for i := range min(movable, m.n) {
			if count[i] > 0 {
				to[i].X += shift[i].X / float64(count[i])
				to[i].Y += shift[i].Y / float64(count[i])
			}
		}
	}
}

// Bounds is the rectangle of pixels that a warp to the placement pts can
// write (relative to the destination's Bounds().Min): the pixels whose
// centres lie in the bounding box of the points.
func (m *Mesh) Bounds(pts []face.Point) image.Rectangle {
	if len(pts) == 0 {
		return image.Rectangle{}
	}
	minX, minY := math.Inf(1), math.Inf(1)
	maxX, maxY := math.Inf(-1), math.Inf(-1)
	for _, p := range pts {
		minX, maxX = math.Min(minX, p.X), math.Max(maxX, p.X)
		minY, maxY = math.Min(minY, p.Y), math.Max(maxY, p.Y)
	}
	return image.Rect(toInt(math.Ceil(minX)), toInt(math.Ceil(minY)), toInt(math.Floor(maxX)+1), toInt(math.Floor(maxY)+1))
}

// toInt converts a pixel coordinate, clamped far beyond any image so that
// wild points cannot overflow int.
func toInt(v float64) int {
	switch {
	case v < -1<<30:
		return -1 << 30
	case v > 1<<30:
		return 1 << 30
	}
	return int(v)
}

// Warp draws into dst the image src deformed so that each point from[i] of
// src lands on to[i] of dst. Every pixel of dst whose centre lies in a
// triangle of the mesh placed at to is replaced by src read bilinearly at
// the matching point of the same triangle placed at from (src is extended
// by its edge pixels where that point falls outside it); every other pixel
// of dst keeps its value. Triangles that do not move are copied exactly.
//
// dst and src must not share pixels. An *image.RGBA src is read in place;
// any other type has the region under from converted first.
func (m *Mesh) Warp(dst *image.RGBA, src image.Image, from, to []face.Point) error {
	if dst == nil || src == nil {
		return fmt.Errorf("warp: nil image")
	}
	if len(from) != m.n || len(to) != m.n {
		return fmt.Errorf("warp: mesh has %d points, got %d from and %d to", m.n, len(from), len(to))
	}
	for i := range from {
		if !finite(from[i]) || !finite(to[i]) {
			return fmt.Errorf("warp: point %d is not finite (%v → %v)", i, from[i], to[i])
		}
	}
	sb := src.Bounds()
	if sb.Empty() {
		return fmt.Errorf("warp: empty source image")
	}
	s := rgbaRegion(src, m.Bounds(from).Inset(-2))
	d := &image.RGBA{Pix: dst.Pix, Stride: dst.Stride, Rect: dst.Rect.Sub(dst.Rect.Min)}
	area := m.Bounds(to).Intersect(d.Rect)
	if area.Empty() {
		return nil
	}
	parallel(area.Min.Y, area.Max.Y, area.Dx(), func(y0, y1 int) {
		for _, t := range m.tris {
			drawTriangle(d, s, [3]face.Point{from[t[0]], from[t[1]], from[t[2]]},
				[3]face.Point{to[t[0]], to[t[1]], to[t[2]]}, y0, y1)
		}
	})
	return nil
}

// Warp returns a copy of src deformed so that each point from[i] lands on
// to[i], triangulating from (see Mesh.Warp). Pixels outside the hull of to
// are src's own: add anchors (Ring) to both lists to make the deformation
// fade out instead of ending at the hull.
func Warp(src image.Image, from, to []face.Point) (*image.RGBA, error) {
	if src == nil {
		return nil, fmt.Errorf("warp: nil image")
	}
	m, err := NewMesh(from)
	if err != nil {
		return nil, err
	}
	b := src.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Rect, src, b.Min, draw.Src)
	if err := m.Warp(out, src, from, to); err != nil {
		return nil, err
	}
	return out, nil
}

// Ring returns n fixed anchor points on an ellipse around pts: the ellipse,
// with its axes turned by angle (radians, clockwise on screen like
// face.Face.Angle), is the smallest of the shape of pts' bounding box (in
// the turned frame) that holds every point, grown by margin pixels on each
// axis. Added to both point lists of a warp, the ring pins the
// deformation to zero at a distance of about margin from the moving points,
// so nothing beyond the ring changes.
func Ring(pts []face.Point, angle, margin float64, n int) []face.Point {
	if len(pts) == 0 || n < 3 {
		return nil
	}
	sin, cos := math.Sincos(angle)
	minU, minV := math.Inf(1), math.Inf(1)
	maxU, maxV := math.Inf(-1), math.Inf(-1)
	for _, p := range pts {
		u, v := p.X*cos+p.Y*sin, -p.X*sin+p.Y*cos
		minU, maxU = math.Min(minU, u), math.Max(maxU, u)
		minV, maxV = math.Min(minV, v), math.Max(maxV, v)
	}
	cu, cv := (minU+maxU)/2, (minV+maxV)/2
	hu, hv := math.Max((maxU-minU)/2, 0.5), math.Max((maxV-minV)/2, 0.5)
	// Scale the box's inscribed ellipse until it holds every point.
	k := 1.0
	for _, p := range pts {
		u, v := p.X*cos+p.Y*sin-cu, -p.X*sin+p.Y*cos-cv
		k = math.Max(k, math.Hypot(u/hu, v/hv))
	}
	a, b := k*hu+margin, k*hv+margin
	ring := make([]face.Point, n)
	for i := range ring {
		s, c := math.Sincos(2 * math.Pi * float64(i) / float64(n))
		u, v := cu+a*c, cv+b*s
		ring[i] = face.Point{X: u*cos - v*sin, Y: u*sin + v*cos}
	}
	return ring
}

func finite(p face.Point) bool {
	return !math.IsNaN(p.X) && !math.IsNaN(p.Y) && !math.IsInf(p.X, 0) && !math.IsInf(p.Y, 0)
}

// drawTriangle fills the pixels of dst whose centres lie in the triangle
// to, within rows [y0, y1), with src read at the affine image of each pixel
// under the map that takes to onto from.
//
// Coverage follows a half-open rule: a row y belongs to the triangle when
// ymin <= y < ymax and a pixel x when xleft <= x < xright, where an edge's x
// at a row is always computed from the same two endpoints in the same
// order. Two triangles sharing an edge therefore split its pixels exactly,
// with no gap and no pixel drawn twice.
func drawTriangle(dst, src *image.RGBA, from, to [3]face.Point, y0, y1 int) {
	// The map to → from, as src = (A·x + B·y + C, D·x + E·y + F).
	e1x, e1y := to[1].X-to[0].X, to[1].Y-to[0].Y
	e2x, e2y := to[2].X-to[0].X, to[2].Y-to[0].Y
	det := e1x*e2y - e2x*e1y
	if !(math.Abs(det) > 1e-12) {
		return // covers no pixel centre worth speaking of
	}
	f1x, f1y := from[1].X-from[0].X, from[1].Y-from[0].Y
	f2x, f2y := from[2].X-from[0].X, from[2].Y-from[0].Y
	// [f1 f2]·[e1 e2]⁻¹
	A := (f1x*e2y - f2x*e1y) / det
	B := (f2x*e1x - f1x*e2x) / det
	D := (f1y*e2y - f2y*e1y) / det
	E := (f2y*e1x - f1y*e2x) / det
	C := from[0].X - A*to[0].X - B*to[0].Y
	F := from[0].Y - D*to[0].X - E*to[0].Y
	still := from == to

	v := to
	// Sort by (y, x) so that every edge is evaluated from its upper end.
	less := func(p, q face.Point) bool { return p.Y < q.Y || p.Y == q.Y && p.X < q.X }
	if less(v[1], v[0]) {
		v[0], v[1] = v[1], v[0]
	}
	if less(v[2], v[1]) {
		v[1], v[2] = v[2], v[1]
	}
	if less(v[1], v[0]) {
		v[0], v[1] = v[1], v[0]
	}
	ya := max(toInt(math.Ceil(v[0].Y)), y0, dst.Rect.Min.Y)
	yb := min(toInt(math.Ceil(v[2].Y)), y1, dst.Rect.Max.Y) // exclusive
	if ya >= yb {
		return
	}
	long := newEdge(v[0], v[2])
	upper, lower := newEdge(v[0], v[1]), newEdge(v[1], v[2])
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	for y := ya; y < yb; y++ {
		fy := float64(y)
		xl := long.at(fy)
		var xr float64
		if fy < v[1].Y {
			xr = upper.at(fy)
		} else {
			xr = lower.at(fy)
		}
		if xr < xl {
			xl, xr = xr, xl
		}
		xa := max(toInt(math.Ceil(xl)), dst.Rect.Min.X)
		xb := min(toInt(math.Ceil(xr)), dst.Rect.Max.X)
		if xa >= xb {
			continue
		}
		out := dst.Pix[y*dst.Stride+4*xa : y*dst.Stride+4*xb]
		if still && y >= src.Rect.Min.Y && y < src.Rect.Max.Y && xa >= src.Rect.Min.X && xb <= src.Rect.Max.X {
			i := (y-src.Rect.Min.Y)*src.Stride + 4*(xa-src.Rect.Min.X)
			copy(out, src.Pix[i:i+len(out)])
			continue
		}
		// Walk the row: each pixel step moves the source point by (A, D).
		sx := A*float64(xa) + B*fy + C - float64(src.Rect.Min.X)
		sy := D*float64(xa) + E*fy + F - float64(src.Rect.Min.Y)
		sampleRow(out, src.Pix, src.Stride, sw, sh, sx, sy, A, D)
	}
}

// edge is a triangle side evaluated top-down: x at row y.
type edge struct{ x0, y0, slope float64 }

func newEdge(p, q face.Point) edge {
	e := edge{x0: p.X, y0: p.Y}
	if q.Y != p.Y {
		e.slope = (q.X - p.X) / (q.Y - p.Y)
	}
	return e
}

func (e edge) at(y float64) float64 { return e.x0 + (y-e.y0)*e.slope }

// sampleRow fills out (RGBA pixels) with the w×h image pix read bilinearly
// along the line starting at (sx, sy) and stepping (dx, dy) per pixel.
// Coordinates are clamped to the image, which extends it by its edge
// pixels. The walk is in 16.16 fixed point (drifting less than 1/300 pixel
// over a 1000-pixel row) and the weights are rounded to 1/256, so a source
// point within 1/512 pixel of a pixel centre reads that pixel exactly.
func sampleRow(out, pix []uint8, stride, w, h int, sx, sy, dx, dy float64) {
	const one = 1 << 16
	x, y := int64(math.Round(sx*one)), int64(math.Round(sy*one))
	stepX, stepY := int64(math.Round(dx*one)), int64(math.Round(dy*one))
	maxX, maxY := int64(w-1)<<8, int64(h-1)<<8
	for i := 0; i+4 <= len(out); i += 4 {
		// Position in 1/256 pixel, rounded, clamped to the image.
		fx, fy := (x+1<<7)>>8, (y+1<<7)>>8
		x += stepX
		y += stepY
		fx = min(max(fx, 0), maxX)
		fy = min(max(fy, 0), maxY)
		x0, y0 := int(fx>>8), int(fy>>8)
		wx, wy := uint32(fx&255), uint32(fy&255)
		j := y0*stride + 4*x0
		nx, ny := 4, stride
		if wx == 0 {
			nx = 0 // also keeps the last column from reading past the row
		}
		if wy == 0 {
			ny = 0
		}
		p := pix[j : j+4 : j+4]
		q := pix[j+nx : j+nx+4 : j+nx+4]
		r := pix[j+ny : j+ny+4 : j+ny+4]
		s := pix[j+ny+nx : j+ny+nx+4 : j+ny+nx+4]
		w00, w10 := (256-wx)*(256-wy), wx*(256-wy)
		w01, w11 := (256-wx)*wy, wx*wy
		o := out[i : i+4 : i+4]
		o[0] = uint8((uint32(p[0])*w00 + uint32(q[0])*w10 + uint32(r[0])*w01 + uint32(s[0])*w11 + 1<<15) >> 16)
		o[1] = uint8((uint32(p[1])*w00 + uint32(q[1])*w10 + uint32(r[1])*w01 + uint32(s[1])*w11 + 1<<15) >> 16)
		o[2] = uint8((uint32(p[2])*w00 + uint32(q[2])*w10 + uint32(r[2])*w01 + uint32(s[2])*w11 + 1<<15) >> 16)
		o[3] = uint8((uint32(p[3])*w00 + uint32(q[3])*w10 + uint32(r[3])*w01 + uint32(s[3])*w11 + 1<<15) >> 16)
	}
}

// rgbaRegion returns img as an *image.RGBA with coordinates relative to
// img.Bounds().Min. An *image.RGBA is used in place; any other type has only
// the region r (relative coordinates, clipped to the image) converted, and
// the result's Rect is that region, so callers must honour Rect.Min.
func rgbaRegion(img image.Image, r image.Rectangle) *image.RGBA {
	b := img.Bounds()
	if m, ok := img.(*image.RGBA); ok {
		return &image.RGBA{Pix: m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], Stride: m.Stride, Rect: image.Rect(0, 0, b.Dx(), b.Dy())}
	}
	r = r.Intersect(image.Rect(0, 0, b.Dx(), b.Dy()))
	if r.Empty() {
		// The points lie off the image: read its nearest pixel.
		r = image.Rect(0, 0, b.Dx(), b.Dy())
	}
	out := image.NewRGBA(r)
	draw.Draw(out, r, img, r.Min.Add(b.Min), draw.Src)
	return out
}

// parallelMinPixels is the area below which splitting rows over goroutines
// costs more than it saves.
const parallelMinPixels = 128 * 128

// parallel runs fn over row ranges that together cover [y0, y1), on up to
// GOMAXPROCS goroutines when the area is large enough to be worth it.
func parallel(y0, y1, cols int, fn func(y0, y1 int)) {
	rows := y1 - y0
	procs := runtime.GOMAXPROCS(0)
	if procs < 2 || rows < 2 || rows*cols < parallelMinPixels {
		fn(y0, y1)
		return
	}
	n := min(procs, rows)
	var wg sync.WaitGroup
	for k := range n {
		a, b := y0+k*rows/n, y0+(k+1)*rows/n
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(a, b)
		}()
	}
	wg.Wait()
}
