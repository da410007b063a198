// Package align maps faces to a canonical, upright pose and back: similarity
// fits of landmarks (Umeyama), aligned crops, pasting crops back into the
// frame, and face masks drawn from landmarks.
//
// Coordinates follow package face: pixels with their centres on integers, so
// the pixel (x, y) of an image covers [x-0.5, x+0.5] × [y-0.5, y+0.5]. A crop of
// size s therefore spans the continuous square [-0.5, s-0.5]² and the
// canonical unit square [0, 1]² is mapped onto it edge to edge.
package align

import (
	"math"

	"github.com/facesynth/facesynth/internal/face"
)

// Transform is a 2-D affine map stored as the top two rows of a 3×3 matrix:
//
//	x' = A·x + B·y + C
//	y' = D·x + E·y + F
//
// Umeyama and ToCrop return similarities (rotation, uniform scale and
// translation), but every function here accepts a general affine map.
// The zero Transform maps everything to the origin; it is what Invert
// returns for a singular map and what ToCrop returns for unusable input,
// and Valid reports false for it.
type Transform struct{ A, B, C, D, E, F float64 }

// Identity is the transform that changes nothing.
var Identity = Transform{A: 1, E: 1}

// Apply maps one point.
func (t Transform) Apply(p face.Point) face.Point {
	return face.Point{X: t.A*p.X + t.B*p.Y + t.C, Y: t.D*p.X + t.E*p.Y + t.F}
}

// ApplyAll maps a slice of points into a new slice.
func (t Transform) ApplyAll(pts []face.Point) []face.Point {
	out := make([]face.Point, len(pts))
	for i, p := range pts {
		out[i] = t.Apply(p)
	}
	return out
}

// Det is the determinant of the linear part; its square root is the scale of
// a similarity.
func (t Transform) Det() float64 { return t.A*t.E - t.B*t.D }

// Scale is the mean linear scale factor, sqrt(|det|).
func (t Transform) Scale() float64 { return math.Sqrt(math.Abs(t.Det())) }

// Valid reports whether the transform is finite and invertible, i.e. usable
// for warping.
func (t Transform) Valid() bool {
	for _, v := range [...]float64{t.A, t.B, t.C, t.D, t.E, t.F} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	// Relative to the size of the entries, so tiny but well-conditioned
	// scales (a 4K frame into a 16 px crop) still count as invertible.
	n := math.Max(math.Max(math.Abs(t.A), math.Abs(t.B)), math.Max(math.Abs(t.D), math.Abs(t.E)))
	return n > 0 && math.Abs(t.Det()) > 1e-12*n*n
}

// Invert returns the inverse map, or the zero Transform when t is singular.
func (t Transform) Invert() Transform {
	det := t.Det()
	if !t.Valid() || det == 0 {
		return Transform{}
	}
	a, b, d, e := t.E/det, -t.B/det, -t.D/det, t.A/det
	return Transform{
		A: a, B: b, C: -(a*t.C + b*t.F),
		D: d, E: e, F: -(d*t.C + e*t.F),
	}
}

// Then returns the map that applies t first and then u.
func (t Transform) Then(u Transform) Transform {
	return Transform{
		A: u.A*t.A + u.B*t.D, B: u.A*t.B + u.B*t.E, C: u.A*t.C + u.B*t.F + u.C,
		D: u.D*t.A + u.E*t.D, E: u.D*t.B + u.E*t.E, F: u.D*t.C + u.E*t.F + u.F,
	}
}

// Angle is the rotation of a similarity in radians (positive turns +x
// toward +y, i.e. clockwise on screen).
func (t Transform) Angle() float64 { return math.Atan2(t.D, t.A) }

// Umeyama is the least-squares similarity (rotation, uniform scale,
// translation; no reflection) that maps src onto dst, after Umeyama (1991).
// Points are paired by index; when the slices differ in length only the
// common prefix is used. With no pairs it returns the zero Transform; when
// src has no spread (all points equal) there is no scale or rotation to
// estimate and the result is the translation between the centroids.
func Umeyama(src, dst []face.Point) Transform {
	return umeyama(src, dst, nil)
}

// umeyama is Umeyama restricted to the indices in idx (all when idx is nil).
//
// In 2-D the closed form is short: with centred points, the optimal rotation
// angle is atan2(Σ x×y', Σ x·y') and the scale is the length of that vector
// divided by the variance of src. This equals the SVD solution of Umeyama's
// paper with the reflection case excluded, and needs no linear algebra.
func umeyama(src, dst []face.Point, idx []int) Transform {
	n := min(len(src), len(dst))
	each := func(fn func(s, d face.Point)) {
		if idx == nil {
			for i := range n {
				fn(src[i], dst[i])
			}
			return
		}
		for _, i := range idx {
			if i < n {
				fn(src[i], dst[i])
			}
		}
	}
	var cnt float64
	var ms, md face.Point
	each(func(s, d face.Point) {
		cnt++
		ms.X += s.X
		ms.Y += s.Y
		md.X += d.X
		md.Y += d.Y
	})
	if cnt == 0 {
		return Transform{}
	}
	ms.X, ms.Y, md.X, md.Y = ms.X/cnt, ms.Y/cnt, md.X/cnt, md.Y/cnt
	var dot, cross, varS float64
	each(func(s, d face.Point) {
		sx, sy := s.X-ms.X, s.Y-ms.Y
		dx, dy := d.X-md.X, d.Y-md.Y
		dot += sx*dx + sy*dy
		cross += sx*dy - sy*dx
		varS += sx*sx + sy*sy
	})
	if varS == 0 {
		return Transform{A: 1, E: 1, C: md.X - ms.X, F: md.Y - ms.Y}
	}
	// a = s·cosθ, b = s·sinθ.
	a, b := dot/varS, cross/varS
	return Transform{
		A: a, B: -b, C: md.X - (a*ms.X - b*ms.Y),
		D: b, E: a, F: md.Y - (b*ms.X + a*ms.Y),
	}
}
