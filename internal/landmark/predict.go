package landmark

import (
	"image"
	"math"

	"github.com/facesynth/facesynth/internal/face"
)

// Predict places the landmarks for the face in box, reading intensities from
// g (face.Gray's (r+g+b)/3 plane, which is what dlib reads from an RGB
// image). Points and box are in g's coordinate space (g.Rect need not start
// at (0,0)). It returns NumParts sub-pixel points; rounding them half up
// gives dlib's integer points. It returns nil for a nil image or one whose
// Pix is too short for its Rect and Stride. Safe for concurrent use.
//
// The arithmetic follows dlib's shape_predictor operator() step by step:
// the shape is float32, the mean-to-current similarity transform is fitted
// in float64 and cast to float32, feature positions are computed in float32
// and mapped into the image in float64, and every explicit conversion below
// is there to stop the compiler fusing a multiply-add that dlib rounds
// twice.
func (p *Predictor) Predict(g *image.Gray, box face.Box) []face.Point {
	if g == nil || len(p.mean) == 0 || !wellFormed(g) {
		return nil
	}
	s := p.scratch.Get().(*scratch)
	defer p.scratch.Put(s)
	shape := s.shape
	copy(shape, p.mean)

	// dlib maps (0,0) to the box's top-left and (1,1) to its bottom-right
	// corner; with inclusive Right/Bottom that is a scale of Right-Left, not
	// the width.
	sx, sy := box.Right-box.Left, box.Bottom-box.Top
	minX, minY := float64(g.Rect.Min.X), float64(g.Rect.Min.Y)
	maxX, maxY := float64(g.Rect.Max.X-1), float64(g.Rect.Max.Y-1)

	for li := range p.levels {
		lv := &p.levels[li]
		m00, m01, m10, m11 := p.similarity(shape)
		feats := s.feats[:len(lv.anchors)]
		deltas := lv.deltas[:2*len(lv.anchors)]
		for i, a := range lv.anchors {
			dx, dy := deltas[2*i], deltas[2*i+1]
			// tform*delta + location(current_shape, anchor), in float32.
			x := float32(float32(float32(m00*dx)+float32(m01*dy)) + shape[a])
			y := float32(float32(float32(m10*dx)+float32(m11*dy)) + shape[a+1])
			// unnormalizing_tform, in float64, then dlib::point's rounding.
			px := math.Floor(float64(float64(x)*sx) + box.Left + 0.5)
			py := math.Floor(float64(float64(y)*sy) + box.Top + 0.5)
			// Negated test so that NaN (from a NaN box) reads as outside.
			if !(px >= minX && px <= maxX && py >= minY && py <= maxY) {
				feats[i] = 0
				continue
			}
			off := (int(py)-g.Rect.Min.Y)*g.Stride + int(px) - g.Rect.Min.X
			feats[i] = float32(g.Pix[off])
		}

		// Walk every tree first, then add the reached leaves: the leaves are
		// scattered over ~65 MB, and adding them chunk by chunk across all
		// trees issues many independent loads at once instead of one leaf
		// after another (see addLeaves).
		leafOffs := s.leafOffs[:len(lv.trees)]
		splits, dim := lv.splits, len(shape)
		for ti, t := range lv.trees {
			nodes := splits[t.first : t.first+t.n]
			i := 0
			for i < len(nodes) {
				n := nodes[i]
				if feats[n.a]-feats[n.b] > n.thresh {
					i = 2*i + 1
				} else {
					i = 2*i + 2
				}
			}
			leafOffs[ti] = t.leaf0 + (i-len(nodes))*dim
		}
		addLeaves(shape, lv.leaves, leafOffs)
	}

	pts := make([]face.Point, len(shape)/2)
	for i := range pts {
		pts[i] = face.Point{
			X: float64(float64(shape[2*i])*sx) + box.Left,
			Y: float64(float64(shape[2*i+1])*sy) + box.Top,
		}
	}
	return pts
}

// wellFormed reports whether every pixel of g.Rect lies inside g.Pix, so
// that reading any in-bounds feature pixel cannot index out of range.
func wellFormed(g *image.Gray) bool {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	if w <= 0 || h <= 0 {
		return true // nothing is ever read
	}
	if g.Stride < w || len(g.Pix) < w {
		return false
	}
	return (len(g.Pix)-w)/g.Stride >= h-1
}

// addLeaves adds the leaves at offs to the shape. Every element receives
// its additions in tree order, as dlib's current_shape += leaf does tree by
// tree (float32 sums are not associative, so the order matters); only the
// loop nesting differs: eight elements are held in registers while all
// trees' leaves are added to them.
func addLeaves(shape, leaves []float32, offs []int) {
	dim := len(shape)
	c := 0
	for ; c+8 <= dim; c += 8 {
		s := shape[c : c+8 : c+8]
		s0, s1, s2, s3, s4, s5, s6, s7 := s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]
		for _, o := range offs {
			l := leaves[o+c : o+c+8 : o+c+8]
			s0 += l[0]
			s1 += l[1]
			s2 += l[2]
			s3 += l[3]
			s4 += l[4]
			s5 += l[5]
			s6 += l[6]
			s7 += l[7]
		}
		s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7] = s0, s1, s2, s3, s4, s5, s6, s7
	}
	for ; c < dim; c++ {
		v := shape[c]
		for _, o := range offs {
			v += leaves[o+c]
		}
		shape[c] = v
	}
}

// similarity is dlib's find_tform_between_shapes(mean, shape) cast to
// float32: the least-squares similarity (Umeyama) from the mean shape to the
// current shape. dlib obtains the rotation through an SVD of the 2×2
// covariance; in two dimensions that optimum has the closed form
// c·R = [[a, -b], [b, a]] with a = (cov00+cov11)/σ², b = (cov10-cov01)/σ²,
// which equals dlib's to within float64 rounding, far below the float32 it
// is cast to.
func (p *Predictor) similarity(shape []float32) (m00, m01, m10, m11 float32) {
	n := len(shape) / 2
	fn := float64(n)
	var tx, ty float64
	for i := range n {
		tx += float64(shape[2*i])
		ty += float64(shape[2*i+1])
	}
	tx /= fn
	ty /= fn
	var c00, c01, c10, c11 float64
	from := p.meanCentred[:2*n]
	for i := range n {
		dx, dy := float64(shape[2*i])-tx, float64(shape[2*i+1])-ty
		fx, fy := from[2*i], from[2*i+1]
		c00 += float64(dx * fx)
		c01 += float64(dx * fy)
		c10 += float64(dy * fx)
		c11 += float64(dy * fy)
	}
	c00, c01, c10, c11 = c00/fn, c01/fn, c10/fn, c11/fn
	if p.meanSigma == 0 {
		// dlib's c = 1 for a degenerate mean shape; its rotation then comes
		// from an SVD of a zero matrix, the identity.
		return 1, 0, 0, 1
	}
	a := (c00 + c11) / p.meanSigma
	b := (c10 - c01) / p.meanSigma
	return float32(a), float32(-b), float32(b), float32(a)
}
