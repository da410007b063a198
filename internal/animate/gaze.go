package animate

import (
	"math"
	"math/rand/v2"

	"github.com/facesynth/facesynth/internal/face"
)

// The eyes turn by moving three control points per eye inside its
// outline (a constrained edge loop of the mesh, so their triangles reach
// the lids and corners and nothing else): one at the iris centre and one
// straight below each of the two middle upper-lid landmarks, so the iris
// and pupil between them shift whole and the white on either side
// stretches or narrows. With the centre point alone the warp moved the
// dark of the iris about a third as far as asked. The side points start
// below lid landmarks because a blink curls the lid line down at the
// corners: a point further out than the landmark above it would cross
// the line from that landmark to the corner as the eye closes. All keep
// their fraction of the way between the lid lines, and the turn fades as
// the eye closes.

// Lid lines of each eye, corner to corner: upper, then lower
// (image-left eye, then image-right).
var lidLines = [2][2][4]int{
	{{36, 37, 38, 39}, {36, 41, 40, 39}},
	{{42, 43, 44, 45}, {42, 47, 46, 45}},
}

// irisRoom bounds the iris point: along the eye within ±irisRoom.U eye
// widths of its middle, across it within irisRoom.T of the opening from
// either lid.
var irisRoom = struct{ U, T float64 }{0.3, 0.2}

// sideRoom is how far from the eye's middle (eye widths) the side points
// may go.
const sideRoom = 0.42

// findIrises measures where the photo's irises are (face.FindIrises).
func (a *Animator) findIrises() {
	irises, ok := face.FindIrises(face.Gray(a.photo), a.rest)
	if !ok {
		return
	}
	for k, e := range face.Eyes(a.rest) {
		u, v := e.Local(irises[k])
		a.irisU[k] = clamp(u, -irisRoom.U, irisRoom.U)
		up, lo := lidsAt(e, a.rest, k, a.irisU[k])
		a.irisT[k] = clamp((v-up)/max(lo-up, 1e-9), irisRoom.T, 1-irisRoom.T)
		for j := range 2 {
			su, _ := e.Local(a.rest[lidLines[k][0][1+j]])
			a.irisSide[k][j] = su - a.irisU[k]
		}
	}
	a.irisOK = true
	a.gaze = face.GazeOf(a.rest, irises)
}

// Gaze is where the photo's eyes look (face.Gaze), and whether the
// animator found the irises; without them Expression.Gaze does nothing.
func (a *Animator) Gaze() (face.Gaze, bool) { return a.gaze, a.irisOK }

// lids is the mean across-eye coordinate of eye k's upper and lower lid
// points in e's frame.
func lids(e face.EyeFrame, pts []face.Point, k int) (up, lo float64) {
	for j := 1; j <= 2; j++ {
		_, vu := e.Local(pts[lidLines[k][0][j]])
		_, vl := e.Local(pts[lidLines[k][1][j]])
		up, lo = up+vu/2, lo+vl/2
	}
	return up, lo
}

// lidsAt is where eye k's upper and lower lid lines cross the line across
// the eye at u, in e's frame: a point between them at a fixed fraction of
// the way keeps its side of every lid segment as the eye opens and
// closes, so its triangles never turn over.
func lidsAt(e face.EyeFrame, pts []face.Point, k int, u float64) (up, lo float64) {
	at := func(line [4]int) float64 {
		var q [4][2]float64
		for i, idx := range line {
			q[i][0], q[i][1] = e.Local(pts[idx])
		}
		for i := 0; i < 3; i++ {
			if u <= q[i+1][0] || i == 2 {
				d := q[i+1][0] - q[i][0]
				if d <= 1e-9 {
					return q[i][1]
				}
				t := clamp((u-q[i][0])/d, 0, 1)
				return q[i][1] + t*(q[i+1][1]-q[i][1])
			}
		}
		return q[3][1]
	}
	return at(lidLines[k][0]), at(lidLines[k][1])
}

// controls is the warp's control points for landmarks pts, without the
// fixed anchors: the landmarks, the extras (withExtras), and the iris
// points for gaze when the photo's irises were found.
func (a *Animator) controls(pts []face.Point, gaze face.Gaze) []face.Point {
	out := withExtras(a.rest, pts, a.fr)
	if !a.irisOK {
		return out
	}
	gx := clamp(gaze.X, -MaxGaze.X, MaxGaze.X)
	gy := clamp(gaze.Y, -MaxGaze.Y, MaxGaze.Y)
	restEyes := face.Eyes(a.rest)
	for k, e := range face.Eyes(pts) {
		up, lo := lids(e, pts, k)
		ru, rl := lids(restEyes[k], a.rest, k)
		// The turn fades out as the eye closes (fully by half its
		// opening in the photo).
		f := smoothstep(0.5, 1, (lo-up)/max(rl-ru, 1e-9))
		u := clamp(a.irisU[k]+f*gx, -irisRoom.U, irisRoom.U)
		for _, pu := range [3]float64{clamp(u+a.irisSide[k][0], -sideRoom, sideRoom), u, clamp(u+a.irisSide[k][1], -sideRoom, sideRoom)} {
			up, lo := lidsAt(e, pts, k, pu)
			t := clamp(a.irisT[k]+f*gy/max(lo-up, 1e-9), irisRoom.T, 1-irisRoom.T)
			out = append(out, e.Global(pu, up+t*(lo-up)))
		}
	}
	return out
}

// Glances: a speaker's eyes do not stay fixed. They rest on one point for
// a second or a few, then jump (a saccade, 30–50 ms) to another near it,
// and mostly come back toward the listener. A talking photo whose eyes
// never move looks like a photo; these are small jumps along the eye.
const (
	glanceMeanHold = 2.2  // s between saccades, on average
	glanceMinHold  = 0.8  // s, the shortest fixation
	glanceReach    = 0.07 // eye widths: the largest look aside asked for
	glanceSaccade  = 0.04 // s a jump takes
)

// Glances returns a gaze curve for n frames at fps (Expression.Gaze):
// fixations of random length joined by short saccades, every other one a
// random point within glanceReach of the photo's own gaze along the eye
// (and a third of that across it), the others back near it. The same
// seed gives the same curve; a non-positive or NaN fps gives none.
func Glances(seed uint64, n int, fps float64) []face.Gaze {
	if n <= 0 {
		return nil
	}
	out := make([]face.Gaze, n)
	if !(fps > 0) || math.IsInf(fps, 0) {
		return out
	}
	rng := rand.New(rand.NewPCG(seed, 0x676c616e6365))
	hold := func() float64 {
		theta := (glanceMeanHold - glanceMinHold) / 2
		return glanceMinHold + theta*(rng.ExpFloat64()+rng.ExpFloat64())
	}
	uniform := func(r float64) float64 { return r * (2*rng.Float64() - 1) }
	// Saccade k starts at times[k] and ends at fixation targets[k].
	var times []float64
	var targets []face.Gaze
	end := float64(n) / fps
	for t, k := hold(), 0; t < end; t, k = t+glanceSaccade+hold(), k+1 {
		g := face.Gaze{X: uniform(glanceReach / 4)}
		if k%2 == 0 {
			g = face.Gaze{X: uniform(glanceReach), Y: uniform(glanceReach / 3)}
		}
		times, targets = append(times, t), append(targets, g)
	}
	var from face.Gaze
	k := 0
	for i := range out {
		ti := float64(i) / fps
		for k < len(times) && ti >= times[k]+glanceSaccade {
			from = targets[k]
			k++
		}
		g := from
		if k < len(times) && ti > times[k] {
			f := smoothstep(times[k], times[k]+glanceSaccade, ti)
			g = face.Gaze{X: from.X + f*(targets[k].X-from.X), Y: from.Y + f*(targets[k].Y-from.Y)}
		}
		out[i] = g
	}
	return out
}
