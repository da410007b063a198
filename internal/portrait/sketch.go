package portrait

import (
	"math"

	"github.com/facesynth/facesynth/internal/face"
)

// The sketch is what the renderer sees of a face: its 68 landmarks drawn as
// lines, one channel per kind of feature, so the network can tell a lip
// from a jaw line without learning it from shape alone. Deep Video
// Portraits conditions on renderings of a fitted 3-D face; landmark
// sketches are the 2-D stand-in that the rest of facesynth already has.
const SketchChannels = 3

// strokes are the landmark chains drawn into each channel; a negative
// closing index joins the chain's ends.
var strokes = [SketchChannels][][2]int{
	// 0: jaw, brows, nose.
	{{0, 16}, {17, 21}, {22, 26}, {27, 30}, {31, 35}},
	// 1: eyes (closed loops).
	{{36, -41}, {42, -47}},
	// 2: lips, outer and inner.
	{{48, -59}, {60, -67}},
}

// DrawSketch draws pts (already in crop coordinates) into dst, a
// (SketchChannels, size, size) plane set in float32, values 0..1, with
// lines about two pixels wide. dst is cleared first. Package fewshot draws
// its conditioning with it too, so both models read the same sketches.
func DrawSketch(dst []float32, pts []face.Point, size int) {
	for i := range dst {
		dst[i] = 0
	}
	for c, chains := range strokes {
		plane := dst[c*size*size : (c+1)*size*size]
		for _, ch := range chains {
			from, to := ch[0], ch[1]
			closed := to < 0
			if closed {
				to = -to
			}
			for i := from; i < to; i++ {
				line(plane, size, pts[i], pts[i+1])
			}
			if closed {
				line(plane, size, pts[to], pts[from])
			}
		}
	}
}

// line splats a soft segment: each pixel takes 1 − d/1.5 for its distance d
// to the segment, the maximum over segments.
func line(plane []float32, size int, a, b face.Point) {
	const r = 1.5
	x0 := int(math.Floor(math.Min(a.X, b.X) - r))
	x1 := int(math.Ceil(math.Max(a.X, b.X) + r))
	y0 := int(math.Floor(math.Min(a.Y, b.Y) - r))
	y1 := int(math.Ceil(math.Max(a.Y, b.Y) + r))
	x0, y0 = max(x0, 0), max(y0, 0)
	x1, y1 = min(x1, size-1), min(y1, size-1)
	dx, dy := b.X-a.X, b.Y-a.Y
	l2 := dx*dx + dy*dy
	for y := y0; y <= y1; y++ {
		for x := x0; x <= x1; x++ {
			px, py := float64(x)-a.X, float64(y)-a.Y
			t := 0.0
			if l2 > 0 {
				t = math.Max(0, math.Min(1, (px*dx+py*dy)/l2))
			}
			ex, ey := px-t*dx, py-t*dy
			d := math.Sqrt(ex*ex + ey*ey)
			if d >= r {
				continue
			}
			v := float32(1 - d/r)
			if i := y*size + x; v > plane[i] {
				plane[i] = v
			}
		}
	}
}
