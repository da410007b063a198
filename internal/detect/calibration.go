package detect

import (
	"math"

	"github.com/facesynth/facesynth/internal/face"
)

// Placeholder calibration (to be measured).
const (
	boxScale   = 0.8
	boxOffsetX = 0.0
	boxOffsetY = 0.0
)

// dlibBox maps a pigo window (centre x, y, side, found at deg clockwise)
// to a dlib-like box.
func dlibBox(x, y, side, deg float64) face.Box {
	a := deg * math.Pi / 180
	sin, cos := math.Sincos(a)
	dx, dy := boxOffsetX*side, boxOffsetY*side
	cx := x + cos*dx - sin*dy
	cy := y + sin*dx + cos*dy
	half := boxScale * side / 2
	return face.Box{Left: cx - half + 0.5, Top: cy - half + 0.5, Right: cx + half - 0.5, Bottom: cy + half - 0.5}
}
