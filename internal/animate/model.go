package animate

import (
	"math"

	"github.com/facesynth/facesynth/internal/align"
	"github.com/facesynth/facesynth/internal/face"
)

// frame is the face's own coordinate system: u along the line from the
// left eye centre to the right one (as seen in the image), v perpendicular
// to it pointing down the face, both in units of s, the outer-eye distance.
// Every displacement of the model is written in this frame, so a tilted or
// small face moves exactly like an upright large one.
type frame struct {
	o      face.Point // midpoint of the eye centres
	ex, ey face.Point // unit vectors along u and v, in image coordinates
	s      float64
}

func newFrame(pts []face.Point) frame {
	l, r := align.EyeCentres(pts)
	dx, dy := r.X-l.X, r.Y-l.Y
	n := math.Hypot(dx, dy)
	if n == 0 {
		dx, n = 1, 1
	}
	ex := face.Point{X: dx / n, Y: dy / n}
	return frame{
		o:  face.Point{X: (l.X + r.X) / 2, Y: (l.Y + r.Y) / 2},
		ex: ex,
		ey: face.Point{X: -ex.Y, Y: ex.X},
		s:  face.EyeDistance(pts),
	}
}

// angle is the face's clockwise tilt on screen (as face.Face.Angle).
func (f frame) angle() float64 { return math.Atan2(f.ex.Y, f.ex.X) }

// local returns p's (u, v) in eye distances from the frame's origin.
func (f frame) local(p face.Point) (u, v float64) {
	dx, dy := p.X-f.o.X, p.Y-f.o.Y
	return (dx*f.ex.X + dy*f.ex.Y) / f.s, (dx*f.ey.X + dy*f.ey.Y) / f.s
}

// global is the inverse of local.
func (f frame) global(u, v float64) face.Point {
	return face.Point{X: f.o.X + f.s*(u*f.ex.X+v*f.ey.X), Y: f.o.Y + f.s*(u*f.ex.Y+v*f.ey.Y)}
}

// move displaces p by (du, dv) eye distances along the face's axes.
func (f frame) move(p *face.Point, du, dv float64) {
	p.X += f.s * (du*f.ex.X + dv*f.ey.X)
	p.Y += f.s * (du*f.ex.Y + dv*f.ey.Y)
}

// Landmark groups (dlib's 0-based 68-point order).
var (
	// innerPairs are the upper and lower inner-lip points that meet when
	// the lips close, centre pair in the middle.
	innerPairs = [3][2]int{{61, 67}, {62, 66}, {63, 65}}
	// lidPairs are the upper and lower eyelid points that meet in a blink.
	lidPairs = [4][2]int{{37, 41}, {38, 40}, {43, 47}, {44, 46}}
)

// restGeometry is what the model needs to know about the photo's face.
type restGeometry struct {
	gap      float64    // inner-lip gap at the centre (62→66 along v), px
	pairGap  [3]float64 // the same for each inner pair, px, >= 0
	pairSide [3]float64 // lower minus upper point along u, px
	lid      [4]float64 // eye opening of each lid pair, px, > 0
}

func measure(pts []face.Point, f frame) restGeometry {
	var g restGeometry
	along := func(a, b int) (du, dv float64) {
		ua, va := f.local(pts[a])
		ub, vb := f.local(pts[b])
		return (ub - ua) * f.s, (vb - va) * f.s
	}
	for k, pr := range innerPairs {
		du, dv := along(pr[0], pr[1])
		g.pairSide[k], g.pairGap[k] = du, math.Max(dv, 0)
	}
	g.gap = g.pairGap[1]
	for k, pr := range lidPairs {
		_, dv := along(pr[0], pr[1])
		// An eye the photo shows closed still gets a token opening, so
		// that lid motion has a scale.
		g.lid[k] = math.Max(dv, 0.02*f.s)
	}
	return g
}

// Per-landmark weights of the model's motions (index → share of the
// motion). Missing points do not move.
var (
	// jawWeight: how much of the lower lip's drop each jaw-contour point
	// follows. In a frontal view the jaw turns about the ear axis, so the
	// chin, far in front of that axis, drops fully and the jaw angles
	// below the ears hardly at all.
	jawWeight = map[int]float64{1: 0.03, 2: 0.08, 3: 0.18, 4: 0.32, 5: 0.5, 6: 0.7, 7: 0.88, 8: 1,
		9: 0.88, 10: 0.7, 11: 0.5, 12: 0.32, 13: 0.18, 14: 0.08, 15: 0.03}
	// browRaiseWeight: a brow raise lifts the middle of the brow most.
	browRaiseWeight = map[int]float64{17: 0.7, 18: 0.85, 19: 1, 20: 1, 21: 0.95, 22: 0.95, 23: 1, 24: 1, 25: 0.85, 26: 0.7}
	// browInner/Outer: the brow ends that emotions move separately, with
	// the side (−1 image left, +1 image right).
	browInnerWeight = map[int][2]float64{21: {-1, 1}, 20: {-1, 0.6}, 19: {-1, 0.3}, 22: {1, 1}, 23: {1, 0.6}, 24: {1, 0.3}}
	browOuterWeight = map[int][2]float64{17: {-1, 1}, 18: {-1, 0.6}, 19: {-1, 0.3}, 26: {1, 1}, 25: {1, 0.6}, 24: {1, 0.3}}
)

// lipWeights says how much each lip point moves with each mouth corner:
// 1 at the corner, falling smoothly to nothing toward the middle of the
// mouth, by distance in the photo. Corner motion (a smile, a pout, the
// corners dropping as the jaw opens) is spread by these weights, so
// neighbouring points move alike and the thin wedges of lip at the corners
// keep their shape instead of turning over.
func lipWeights(pts []face.Point) [face.NumLandmarks][2]float64 {
	var w [face.NumLandmarks][2]float64
	reach := 0.6 * dist(pts[48], pts[54])
	for i := 48; i < face.NumLandmarks; i++ {
		w[i][0] = 1 - smoothstep(0, reach, dist(pts[i], pts[48]))
		w[i][1] = 1 - smoothstep(0, reach, dist(pts[i], pts[54]))
	}
	// The inner corners are the corners too, and the lower inner lip
	// moves with the upper one it closes onto.
	w[60], w[64] = w[48], w[54]
	for _, pr := range innerPairs {
		w[pr[1]] = w[pr[0]]
	}
	return w
}

func dist(a, b face.Point) float64 { return math.Hypot(a.X-b.X, a.Y-b.Y) }

// Shares of the change in lip gap: the upper lip lifts a little, the jaw
// carries the rest. The corners sit between the two and drop about a
// third as far, and draw in slightly as the mouth opens tall.
const (
	upperShare   = 0.15
	cornerDrop   = 0.35
	cornerNarrow = 0.06
)

// Mouth shape ranges, in eye distances.
const (
	spreadMax  = 0.07  // corner travel outward at MouthWidth 1 (inward at −1)
	roundIn    = 0.09  // corner travel inward at LipRound 1
	maxNarrow  = 0.12  // most inward corner travel, all causes together
	roundPout  = 0.025 // outer lip centres pushed up/down by rounded lips
	browTravel = 0.07  // brow travel at BrowRaise ±1
	// In a blink the lower lid rises by lidRise of the eye's opening and
	// the upper lid stops lidGap short of it, so the eye's triangles keep
	// their orientation.
	lidRise = 0.1
	lidGap  = 0.03
)

// lowerBand gives each outer lower-lip point the motion of the inner
// points beside it.
var lowerBand = [5]struct {
	to   int
	from [2]int
	w    [2]float64
}{
	{59, [2]int{67, 60}, [2]float64{0.5, 0.5}},
	{58, [2]int{67, 67}, [2]float64{1, 0}},
	{57, [2]int{66, 66}, [2]float64{1, 0}},
	{56, [2]int{65, 65}, [2]float64{1, 0}},
	{55, [2]int{65, 64}, [2]float64{0.5, 0.5}},
}

// closedGap is the inner-lip gap (eye distances) below which a photo's
// lips count as closed: dlib places the inner points of closed lips a
// fraction of a pixel apart, or even crossed.
const closedGap = 0.02

// innerProfile is how far each inner pair opens relative to the centre
// pair, for openings beyond the photo's: the opening is lens-shaped.
var innerProfile = [3]float64{0.8, 1, 0.8}

// emotionShape is how an emotion displaces the face, in eye distances
// (lids in fractions of each eye's own opening). Positive is up for the
// corners and brows, outward for cornerOut, toward the midline for
// browIn, wider for upperLid and higher (a squint) for lowerLid.
type emotionShape struct {
	cornerUp, cornerOut  float64
	browInner, browOuter float64
	browIn               float64
	upperLid, lowerLid   float64
	open                 float64 // added lip gap (a dropped jaw)
}

// emotionShapes follow the facial action units of each expression, at a
// moderate intensity that still reads at video size: happy (AU6+12: cheeks
// and corners up, a slight squint), sad (AU1+4+15: inner brows up, corners
// down, lids droop), angry (AU4+5+7+23: brows down and together, glaring
// lids, lips tightened), surprised (AU1+2+5+26: brows up, eyes wide, jaw
// dropped).
var emotionShapes = [...]emotionShape{
	Neutral:   {},
	Happy:     {cornerUp: 0.07, cornerOut: 0.03, upperLid: -0.05, lowerLid: 0.25},
	Sad:       {cornerUp: -0.05, cornerOut: -0.01, browInner: 0.06, browOuter: -0.02, upperLid: -0.2},
	Angry:     {cornerUp: -0.02, cornerOut: -0.02, browInner: -0.07, browOuter: -0.01, browIn: 0.03, upperLid: 0.1, lowerLid: 0.2},
	Surprised: {cornerOut: -0.02, browInner: 0.09, browOuter: 0.07, upperLid: 0.35, open: 0.06},
}

// Points returns the 68 target landmarks for e: where the photo's
// landmarks go in the frame Render draws for e.
func (a *Animator) Points(e Expression) []face.Point {
	f, g := a.fr, a.geo
	p := append([]face.Point(nil), a.rest...)
	em := emotionShapes[Neutral]
	if e.Emotion > 0 && int(e.Emotion) < len(emotionShapes) {
		em = emotionShapes[e.Emotion]
	}

	// Mouth opening: the target centre gap, and its change from the photo.
	gap := 0.0
	if !e.LipsClosed {
		// Up to half as far again as an open vowel, or the photo's own
		// opening if that is wider, so that Rest always reproduces it.
		most := math.Max(1.5, g.gap/(MaxOpen*f.s))
		gap = (clamp(e.MouthOpen, 0, most)*MaxOpen + em.open) * f.s
	}
	dg := (gap - g.gap) / f.s // eye distances
	lift := upperShare * dg
	drop := dg - lift
	for i, w := range jawWeight {
		f.move(&p[i], 0, drop*w)
	}
	// The lips: the upper lip lifts, the outer lower lip drops with the
	// jaw, and toward the corners both blend into the corners' own motion
	// (down about a third as far as the lower lip, and a little inward).
	// The lower inner lip follows below.
	for i := 48; i <= 64; i++ {
		own := drop
		if i <= 54 || i >= 60 {
			own = -lift
		}
		wl, wr := a.lipW[i][0], a.lipW[i][1]
		follow := math.Min(1, wl+wr)
		f.move(&p[i], (wl-wr)*cornerNarrow*dg, follow*cornerDrop*dg+(1-follow)*own)
	}
	// The lower inner lip hangs from the upper one by the pair's gap: the
	// photo's own gaps scaled down when closing, so that the pairs all
	// meet together, and the photo's plus a lens-shaped opening when
	// opening further. The pairs' sideways offsets fade out as the lips
	// close, so that closed lips meet point on point.
	for k, pr := range innerPairs {
		pg := g.pairGap[k] + (gap-g.gap)*innerProfile[k]
		if gap < g.gap {
			pg = g.pairGap[k] * gap / g.gap
		}
		side := g.pairSide[k] * math.Min(1, gap/math.Max(g.gap, closedGap*f.s))
		p[pr[1]] = p[pr[0]]
		f.move(&p[pr[1]], side/f.s, pg/f.s)
	}

	// The outer lower lip goes where the inner one beside it goes: the
	// lower lip is one band carried by the jaw and keeps its thickness
	// (points by the corners share the corner's motion).
	for _, c := range lowerBand {
		d := face.Point{}
		for k, i := range c.from {
			d.X += c.w[k] * (p[i].X - a.rest[i].X)
			d.Y += c.w[k] * (p[i].Y - a.rest[i].Y)
		}
		p[c.to] = face.Point{X: a.rest[c.to].X + d.X, Y: a.rest[c.to].Y + d.Y}
	}

	// Corners: spread or narrow (MouthWidth), purse (LipRound), emotion.
	width := clamp(e.MouthWidth, -1, 1)
	round := clamp(e.LipRound, 0, 1)
	// Spreading, pursing and the emotion add up, within what lips can do:
	// the mouth keeps at least two thirds of its width.
	out := clamp(width*spreadMax-round*roundIn+em.cornerOut, -maxNarrow, spreadMax+0.03)
	for i := 48; i <= 67; i++ {
		wl, wr := a.lipW[i][0], a.lipW[i][1]
		f.move(&p[i], (wr-wl)*out, -(wl+wr)*em.cornerUp)
	}
	if round > 0 {
		// Pursed lips push their centres out: fuller lips.
		for _, i := range [3]int{50, 51, 52} {
			f.move(&p[i], 0, -roundPout*round)
		}
		for _, i := range [3]int{56, 57, 58} {
			f.move(&p[i], 0, roundPout*round)
		}
	}

	// Brows.
	raise := clamp(e.BrowRaise, -1, 1) * browTravel
	for i, w := range browRaiseWeight {
		f.move(&p[i], 0, -raise*w)
	}
	for i, sw := range browInnerWeight {
		f.move(&p[i], -sw[0]*sw[1]*em.browIn, -sw[1]*em.browInner)
	}
	for i, sw := range browOuterWeight {
		f.move(&p[i], 0, -sw[1]*em.browOuter)
	}

	// Eyelids: the emotion's lid set, then the blink closes the upper lid
	// onto the lower one (which rises a little to meet it), stopping just
	// short so that the eye's triangles keep their orientation.
	blink := clamp(e.Blink, 0, 1)
	for k, pr := range lidPairs {
		h := g.lid[k] / f.s
		up, lo := &p[pr[0]], &p[pr[1]]
		f.move(up, 0, -em.upperLid*h)
		f.move(lo, 0, -em.lowerLid*h-lidRise*blink*h)
		_, vu := f.local(*up)
		_, vl := f.local(*lo)
		closed := vl - lidGap*h
		// A squint may have pushed the lower lid up past the upper: the
		// upper lid then rides on it.
		target := math.Min(vu+(closed-vu)*blink, closed)
		f.move(up, 0, target-vu)
	}

	// A lowered brow stops above the lid fold (with a third of its
	// distance to spare): brows press down onto the lids, not into them.
	for i := 17; i <= 26; i++ {
		eye := [2]int{0, 1} // lidPairs of the image-left eye
		if i >= 22 {
			eye = [2]int{2, 3}
		}
		var foldRest, foldNow, h float64
		for _, k := range eye {
			_, vr := f.local(a.rest[lidPairs[k][0]])
			_, vn := f.local(p[lidPairs[k][0]])
			foldRest, foldNow, h = foldRest+vr/2, foldNow+vn/2, h+g.lid[k]/f.s/2
		}
		foldRest -= creaseHeight * h
		foldNow -= creaseHeight * h
		_, vRest := f.local(a.rest[i])
		_, v := f.local(p[i])
		if lowest := math.Max(foldNow-0.35*(foldRest-vRest), vRest); v > lowest {
			f.move(&p[i], 0, lowest-v)
		}
	}

	a.pose(p, clamp(e.Yaw, -MaxTurn, MaxTurn), clamp(e.Pitch, -MaxTurn, MaxTurn), clamp(e.Roll, -MaxTurn, MaxTurn))
	return p
}

// pose turns the head: each point moves as a point on a rounded face at
// its depth would when the head turns about a centre behind the face (the
// neck), seen straight on; the roll then tilts everything about the nose
// tip. Depths are generic (see depth), not the person's: good for the
// small angles a talking head uses.
func (a *Animator) pose(p []face.Point, yaw, pitch, roll float64) {
	if yaw == 0 && pitch == 0 && roll == 0 {
		return
	}
	f := a.fr
	const pivot = -0.6 // depth of the turning centre, eye distances
	sy, cy := math.Sincos(yaw)
	sp, cp := math.Sincos(pitch)
	cu, cv := f.local(a.rest[30])
	sr, cr := math.Sincos(roll)
	for i := range p {
		u, v := f.local(p[i])
		z := a.depth(i, u) - pivot
		u, v = u-cu, v-cv
		u, v = u*cy+z*sy, v*cp+z*sp
		// Roll about the nose tip, clockwise on screen.
		u, v = u*cr-v*sr, u*sr+v*cr
		p[i] = f.global(u+cu, v+cv)
	}
}

// depth estimates how far in front of the face's outline landmark i is,
// in eye distances, at the local position u it has moved to: an oval face
// (half as deep as it is wide at the middle), with the nose and lips
// standing out. Depth depends on where the point is, not only on which it
// is, so lips pressed together (two points at one place) stay together
// when the head turns.
func (a *Animator) depth(i int, u float64) float64 {
	r := (u - a.midU) / a.halfU
	d := 0.55*math.Sqrt(math.Max(0, 1-r*r)) + noseDepth[i]
	if i >= 48 {
		d += 0.05
	}
	return d
}

// noseDepth is how far the nose and chin stand out of the oval.
var noseDepth = map[int]float64{27: 0.08, 28: 0.13, 29: 0.2, 30: 0.28, 31: 0.1, 32: 0.15, 33: 0.2, 34: 0.15, 35: 0.1, 7: 0.03, 8: 0.03, 9: 0.03}

// Extra control points beyond the 68 landmarks, which keep the warp smooth
// where dlib has no points: the forehead (which follows the head, and the
// brows a little), the cheeks (between the nose, mouth and jaw), and a
// point above each upper-lid point that moves with the lid. Without the
// last, a closing lid would stretch the dark lash line above it along with
// the skin up to the brow; with it, the lash line keeps its thickness and
// the lid skin above unfolds, as it does in a real blink.
const (
	numForehead = 5
	numCheeks   = 4
	numExtras   = numForehead + numCheeks + len(lidPairs)
	// creaseHeight is how far above each upper-lid point its lid-fold
	// point sits, in eye openings: above the lashes, below the crease.
	creaseHeight = 0.5
	// foreheadHeight is how far above the brows the forehead points sit.
	foreheadHeight = 0.4
	// foreheadFollow is how much of the brows' own motion the forehead
	// shares: the skin above the brows stretches.
	foreheadFollow = 0.3
)

// foreheadBrows are the brow points the forehead points stand above (the
// middle one above the midpoint of 21 and 22).
var foreheadBrows = [numForehead][2]int{{17, 17}, {19, 19}, {21, 22}, {24, 24}, {26, 26}}

// cheekMix places each cheek point as a fixed blend of landmarks, so that
// it follows them in any placement, including re-enactment's: the apple of
// the cheek (between the jaw outline, the nose wing and the lower lid, so
// it rises with a squint) and the cheek beside the mouth (between the jaw
// and the mouth corner, so it bunches up and out with a smile).
var cheekMix = [numCheeks]struct {
	idx [3]int
	w   [3]float64
}{
	{[3]int{2, 31, 41}, [3]float64{0.4, 0.3, 0.3}},
	{[3]int{4, 48, 48}, [3]float64{0.6, 0.4, 0}},
	{[3]int{14, 35, 46}, [3]float64{0.4, 0.3, 0.3}},
	{[3]int{12, 54, 54}, [3]float64{0.6, 0.4, 0}},
}

// rigid are landmarks that only head motion moves: the head's similarity
// from rest to target is fitted to them.
var rigid = []int{27, 28, 29, 30, 31, 33, 35, 36, 39, 42, 45}

// withExtras returns pts (68 target landmarks) followed by the extra
// control points placed for them; rest are the photo's landmarks.
func withExtras(rest, pts []face.Point, f frame) []face.Point {
	out := make([]face.Point, 0, len(pts)+numExtras+ringAnchors)
	out = append(out, pts...)
	var rs, ts []face.Point
	for _, i := range rigid {
		rs = append(rs, rest[i])
		ts = append(ts, pts[i])
	}
	head := align.Umeyama(rs, ts)
	mid := func(q []face.Point, b [2]int) face.Point {
		return face.Point{X: (q[b[0]].X + q[b[1]].X) / 2, Y: (q[b[0]].Y + q[b[1]].Y) / 2}
	}
	for _, b := range foreheadBrows {
		br, bt := mid(rest, b), mid(pts, b)
		u, v := f.local(br)
		fr := f.global(u, v-foreheadHeight)
		moved, carried := head.Apply(fr), head.Apply(br)
		out = append(out, face.Point{
			X: moved.X + foreheadFollow*(bt.X-carried.X),
			Y: moved.Y + foreheadFollow*(bt.Y-carried.Y),
		})
	}
	for _, c := range cheekMix {
		var q face.Point
		for k, i := range c.idx {
			q.X += c.w[k] * pts[i].X
			q.Y += c.w[k] * pts[i].Y
		}
		out = append(out, q)
	}
	for _, pr := range lidPairs {
		_, vu := f.local(rest[pr[0]])
		_, vl := f.local(rest[pr[1]])
		h := math.Max(vl-vu, 0.02) * creaseHeight * f.s
		out = append(out, face.Point{X: pts[pr[0]].X - h*f.ey.X, Y: pts[pr[0]].Y - h*f.ey.Y})
	}
	return out
}

// clamp limits v to [lo, hi]; NaN counts as 0 (no motion), also clamped.
func clamp(v, lo, hi float64) float64 {
	if math.IsNaN(v) {
		v = 0
	}
	return math.Max(lo, math.Min(hi, v))
}

func smoothstep(lo, hi, x float64) float64 {
	t := clamp((x-lo)/(hi-lo), 0, 1)
	return t * t * (3 - 2*t)
}
