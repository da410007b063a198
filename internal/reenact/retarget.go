package reenact

import (
	"math"

	"github.com/facesynth/facesynth/internal/align"
	"github.com/facesynth/facesynth/internal/face"
)

// stable are the landmarks that expressions barely move: the upper jaw
// line by the ears, the nose, and the eyes' corners. Head pose is the
// similarity that fits them; everything else that moves is expression.
var stable = []int{0, 1, 2, 14, 15, 16, 27, 28, 29, 30, 31, 33, 35, 36, 39, 42, 45}

func pick(pts []face.Point, idx []int) []face.Point {
	out := make([]face.Point, len(idx))
	for i, k := range idx {
		out[i] = pts[k]
	}
	return out
}

// poseOf is the similarity that carries the neutral face's stable points
// onto pts': the head's rotation, scale and position relative to neutral.
func poseOf(neutral, pts []face.Point) align.Transform {
	return align.Umeyama(pick(neutral, stable), pick(pts, stable))
}

// linear is t without its translation: how t turns and scales a
// displacement.
func linear(t align.Transform) align.Transform {
	t.C, t.F = 0, 0
	return t
}

// Retargeter carries one person's expressions and head motion onto another
// face. An expression is the driver's landmarks, with head pose removed,
// minus the driver's own neutral face; it is turned and scaled into the
// target's frame, resized per feature to the target's proportions (a wide
// mouth opens as wide in proportion, not in pixels), and added to the
// target's neutral face, which then takes the driver's head motion.
type Retargeter struct {
	driverNeutral, targetNeutral []face.Point
	toTarget                     align.Transform // driver's neutral frame → target's
	featureScale                 [face.NumLandmarks]face.Point
}

// NewRetargeter prepares to drive target (its neutral face: a photo's
// landmarks, or a target video's calmest frame) from a driver whose neutral
// face is driverNeutral.
func NewRetargeter(driverNeutral, targetNeutral []face.Point) *Retargeter {
	r := &Retargeter{
		driverNeutral: append([]face.Point(nil), driverNeutral...),
		targetNeutral: append([]face.Point(nil), targetNeutral...),
		toTarget:      poseOf(driverNeutral, targetNeutral),
	}
	// Per-feature proportions in the target's frame: the driver's
	// neutral face mapped onto the target's, then each feature's width
	// and height compared. The mouth's height is measured on the outer
	// lips, the eyes' on their corners' span (an eye's opening is what
	// moves, its size relative to the face is what differs between people).
	mapped := r.toTarget.ApplyAll(driverNeutral)
	for i := range r.featureScale {
		r.featureScale[i] = face.Point{X: 1, Y: 1}
	}
	set := func(idx []int, s face.Point) {
		for _, k := range idx {
			r.featureScale[k] = s
		}
	}
	ratio := func(a, b float64) float64 {
		if b < 1e-6 {
			return 1
		}
		return math.Max(0.6, math.Min(1.6, a/b))
	}
	mouth := span(48, 68)
	eyes := append(span(36, 42), span(42, 48)...)
	brows := span(17, 27)
	jaw := span(3, 14)
	for _, f := range []struct{ idx, wIdx, hIdx []int }{
		{mouth, []int{48, 54}, []int{51, 57}},
		{eyes, []int{36, 45}, []int{37, 41}},
		{brows, []int{17, 26}, []int{19, 37}},
		{jaw, []int{3, 13}, []int{33, 8}},
	} {
		sx := ratio(dist(targetNeutral[f.wIdx[0]], targetNeutral[f.wIdx[1]]), dist(mapped[f.wIdx[0]], mapped[f.wIdx[1]]))
		sy := ratio(dist(targetNeutral[f.hIdx[0]], targetNeutral[f.hIdx[1]]), dist(mapped[f.hIdx[0]], mapped[f.hIdx[1]]))
		set(f.idx, face.Point{X: sx, Y: sy})
	}
	return r
}

func span(from, to int) []int {
	s := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

func dist(a, b face.Point) float64 { return math.Hypot(a.X-b.X, a.Y-b.Y) }

// Expression is the driver's expression in a frame: the displacement of
// each landmark from the driver's neutral face, head pose removed, in the
// target's frame and proportions.
func (r *Retargeter) Expression(driver []face.Point) []face.Point {
	unpose := poseOf(r.driverNeutral, driver).Invert()
	lin := linear(r.toTarget)
	// The target face's own axes, for the per-feature scaling: x along
	// the eyes, y down the face.
	ang := math.Atan2(r.targetNeutral[45].Y-r.targetNeutral[36].Y, r.targetNeutral[45].X-r.targetNeutral[36].X)
	c, s := math.Cos(ang), math.Sin(ang)
	out := make([]face.Point, len(driver))
	for i, p := range driver {
		q := unpose.Apply(p)
		d := lin.Apply(face.Point{X: q.X - r.driverNeutral[i].X, Y: q.Y - r.driverNeutral[i].Y})
		// Into the face's axes, scale per feature, and back.
		u, v := c*d.X+s*d.Y, -s*d.X+c*d.Y
		u, v = u*r.featureScale[i].X, v*r.featureScale[i].Y
		out[i] = face.Point{X: c*u - s*v, Y: s*u + c*v}
	}
	return out
}

// HeadMotion is the driver's head pose relative to its neutral face, as a
// transform of the target's frame: the same turn and relative scale about
// the target's face, and the same shift in face widths.
func (r *Retargeter) HeadMotion(driver []face.Point) align.Transform {
	p := poseOf(r.driverNeutral, driver)
	// Conjugate: target frame → driver's neutral frame → pose → back.
	return r.toTarget.Invert().Then(p).Then(r.toTarget)
}

// Points are the target's landmarks for a driver frame: the target's
// neutral face plus the driver's expression, moved by pose (the driver's
// head motion for a photo; the target's own pose for a target video).
func (r *Retargeter) Points(driver []face.Point, pose align.Transform) []face.Point {
	expr := r.Expression(driver)
	out := make([]face.Point, len(expr))
	for i, d := range expr {
		out[i] = pose.Apply(face.Point{X: r.targetNeutral[i].X + d.X, Y: r.targetNeutral[i].Y + d.Y})
	}
	return out
}
