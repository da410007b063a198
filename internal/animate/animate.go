// Package animate makes a face in a still photo move: it turns an
// Expression (mouth opening and shape from a speech timeline, blinks, brow
// raises, small head motion, an emotion) into target positions of the
// face's 68 landmarks, and renders a frame by warping the photo so that
// the landmarks move there (package warp), painting a mouth interior where
// the lips part.
//
// Only a bounded region around the face changes (Region); every other
// pixel of a rendered frame equals the photo. Points and rendering are
// separate so that re-enactment can drive the same warp with landmarks of
// its own (RenderPoints).
package animate

import (
	"fmt"
	"image"
	"image/draw"
	"math"
	"strings"

	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/warp"
)

// Expression is what one output frame asks of the face. The zero value is
// a neutral face with closed lips and open eyes, looking where the photo
// looks; Animator.Rest is the expression that reproduces the photo.
type Expression struct {
	// MouthOpen is the jaw opening from the speech timeline, 0 (lips
	// together) to 1 (an open vowel: an inner-lip gap of MaxOpen eye
	// distances). MouthWidth spreads (+) or narrows (−) the mouth corners,
	// −1..1; LipRound purses the lips into a rounded opening, 0..1.
	MouthOpen, MouthWidth, LipRound float64
	// LipsClosed presses the lips together whatever MouthOpen says
	// (bilabials: /m/, /b/, /p/).
	LipsClosed bool
	// Blink closes the eyelids: 0 open, 1 closed.
	Blink float64
	// BrowRaise lifts (+) or lowers (−) both brows, −1..1.
	BrowRaise float64
	// Yaw (turn to the image's right), Pitch (nod down) and Roll (tilt
	// clockwise on screen) are small head rotations in radians; they are
	// clamped to ±MaxTurn.
	Yaw, Pitch, Roll float64
	// Emotion shifts mouth corners, brows and eyelids.
	Emotion Emotion
	// Gaze turns the eyes from where they look in the photo, in eye
	// widths (face.Gaze), within ±MaxGaze. It needs irises the animator
	// could find in the photo (see Animator.Gaze); without them the eyes
	// keep the photo's gaze.
	Gaze face.Gaze
}

// MaxGaze bounds Expression.Gaze: along the eye (X) an iris has room to
// move about a sixth of the eye's width before the warp would drag it
// into the corner; across it (Y) the lids cover most of its travel.
var MaxGaze = face.Gaze{X: 0.17, Y: 0.06}

// MaxOpen is the gap between the inner lips at MouthOpen 1, in outer-eye
// distances (points 36–45): about 2.5 cm on an adult, an open "ah".
const MaxOpen = 0.3

// MaxTurn bounds Yaw, Pitch and Roll (radians). A piecewise-affine warp of
// a frontal photo stays plausible only for small turns: it can shift the
// features but not reveal the side of the head.
const MaxTurn = 0.15

// Emotion is an expression the face holds while it talks.
type Emotion int

// The emotions; Neutral is the zero value and changes nothing.
const (
	Neutral Emotion = iota
	Happy
	Sad
	Angry
	Surprised
)

var emotionNames = [...]string{"neutral", "happy", "sad", "angry", "surprised"}

// Emotions lists every Emotion in order, for flags and contact sheets.
var Emotions = []Emotion{Neutral, Happy, Sad, Angry, Surprised}

func (e Emotion) String() string {
	if e < 0 || int(e) >= len(emotionNames) {
		return fmt.Sprintf("Emotion(%d)", int(e))
	}
	return emotionNames[e]
}

// ParseEmotion reads an emotion name (as --emotion takes it), ignoring case.
func ParseEmotion(s string) (Emotion, error) {
	for i, n := range emotionNames {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return Emotion(i), nil
		}
	}
	return Neutral, fmt.Errorf("animate: unknown emotion %q (want %s)", s, strings.Join(emotionNames[:], ", "))
}

// Option adjusts New.
type Option func(*config)

type config struct {
	margin float64
}

// Margin sets how far beyond the face the warp reaches, in outer-eye
// distances (default 0.5). The deformation fades to nothing over this
// band, so a narrow margin squeezes it (a moving chin drags the collar
// visibly) and a wide one changes more of the picture.
func Margin(eyeDistances float64) Option {
	return func(c *config) {
		if eyeDistances > 0 && !math.IsInf(eyeDistances, 0) {
			c.margin = eyeDistances
		}
	}
}

// ringAnchors is the number of fixed anchors around the face: enough that
// the ring is a smooth oval, few enough to keep the mesh small.
const ringAnchors = 20

// minEyeDistance is the smallest face the animator accepts, in pixels
// between the outer eye corners: below this the lips are a few pixels high
// and the eyelids one, and there is nothing to move.
const minEyeDistance = 12

// Animator renders frames of one face of one photo. It is read-only after
// New, so frames may be rendered from several goroutines at once.
type Animator struct {
	photo *image.RGBA // origin at (0,0)
	fr    frame
	rest  []face.Point // the photo's 68 landmarks
	geo   restGeometry
	// midU and halfU place the face's oval for depth: its midline and half
	// width, in eye distances.
	midU, halfU float64
	lipW        [face.NumLandmarks][2]float64 // see lipWeights

	// Where the irises sit in the photo, relative to each eye: along it
	// (u, eye widths from its middle) and across the opening (t, 0 at
	// the upper lid, 1 at the lower). irisOK is false where they could
	// not be found; the eyes then only follow the lids.
	irisU, irisT [2]float64
	irisSide     [2][2]float64 // the side points' u, relative to irisU
	irisOK       bool
	gaze         face.Gaze // the photo's, as measured

	from   []face.Point // rest controls (landmarks, extras, irises) then anchors
	mesh   *warp.Mesh
	region image.Rectangle
	mouth  palette
}

// New prepares to animate the face f of photo: f.Landmarks must hold its
// 68 points (from analyze.Analyzer.Faces), in photo coordinates relative
// to photo.Bounds().Min. The face may be anywhere in the picture and of
// any size above a dozen pixels between the eyes.
func New(photo image.Image, f face.Face, opts ...Option) (*Animator, error) {
	cfg := config{margin: 0.5}
	for _, o := range opts {
		o(&cfg)
	}
	if photo == nil || photo.Bounds().Empty() {
		return nil, fmt.Errorf("animate: empty photo")
	}
	if len(f.Landmarks) != face.NumLandmarks {
		return nil, fmt.Errorf("animate: the face has %d landmarks, need %d (place them with analyze)", len(f.Landmarks), face.NumLandmarks)
	}
	for i, p := range f.Landmarks {
		if math.IsNaN(p.X) || math.IsNaN(p.Y) || math.IsInf(p.X, 0) || math.IsInf(p.Y, 0) {
			return nil, fmt.Errorf("animate: landmark %d is not finite (%v)", i, p)
		}
	}
	b := photo.Bounds()
	a := &Animator{photo: image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))}
	draw.Draw(a.photo, a.photo.Rect, photo, b.Min, draw.Src)
	a.rest = append([]face.Point(nil), f.Landmarks...)
	a.fr = newFrame(a.rest)
	if a.fr.s < minEyeDistance {
		return nil, fmt.Errorf("animate: the face is too small to animate (%.1f px between the outer eye corners, need %d)", a.fr.s, minEyeDistance)
	}
	if c := face.Centroid(a.rest); !image.Pt(int(c.X), int(c.Y)).In(a.photo.Rect) {
		return nil, fmt.Errorf("animate: the face's centre %v is outside the %dx%d photo", c, b.Dx(), b.Dy())
	}
	a.geo = measure(a.rest, a.fr)
	u0, _ := a.fr.local(a.rest[0])
	u16, _ := a.fr.local(a.rest[16])
	a.midU, _ = a.fr.local(a.rest[27])
	a.halfU = math.Max(math.Abs(u16-u0)/2*1.05, 0.1)
	a.lipW = lipWeights(a.rest)

	// Anchors around the landmarks and the forehead points, which the
	// ring must also hold.
	a.findIrises()
	restCtl := a.controls(a.rest, face.Gaze{})
	ring := warp.Ring(restCtl, a.fr.angle(), cfg.margin*a.fr.s, ringAnchors)
	a.from = append(restCtl, ring...)

	// Triangulate with the mouth half open (or as open as the photo's, if
	// more), so that the lips' inner edges are well apart and the mesh
	// has triangles across the mouth for both closing and opening.
	open := math.Max(0.5, a.geo.gap/(MaxOpen*a.fr.s))
	layout := append(a.controls(a.Points(Expression{MouthOpen: open}), face.Gaze{}), ring...)
	mesh, err := warp.NewMesh(layout, outlines...)
	if err != nil {
		// Landmarks so odd that the lip or eye outlines cross each other:
		// a plain mesh still warps, only less robustly.
		if mesh, err = warp.NewMesh(layout); err != nil {
			return nil, fmt.Errorf("animate: %w", err)
		}
	}
	a.mesh = mesh
	r := mesh.Bounds(ring).Inset(-1).Intersect(a.photo.Rect)
	a.region = r
	a.mouth = samplePalette(a.photo, a.rest, a.fr, a.geo)
	return a, nil
}

// outlines are the feature edges the mesh keeps as triangle sides: the
// outer and inner lip lines joined at the corners, and both eyes' lid
// lines. No triangle then straddles a lip or lid edge, so a closing mouth
// or eye flattens only the triangles inside it, and an opening mouth
// stretches only those.
var outlines = func() [][2]int {
	var e [][2]int
	loop := func(from, to int) {
		for i := from; i <= to; i++ {
			next := i + 1
			if i == to {
				next = from
			}
			e = append(e, [2]int{i, next})
		}
	}
	loop(48, 59)
	loop(60, 67)
	loop(36, 41)
	loop(42, 47)
	return append(e, [2]int{48, 60}, [2]int{54, 64})
}()

// Bounds is the size of the frames (the photo's, at the origin).
func (a *Animator) Bounds() image.Rectangle { return a.photo.Rect }

// Region is the part of a frame that rendering may change; every pixel
// outside it equals the photo.
func (a *Animator) Region() image.Rectangle { return a.region }

// Landmarks returns a copy of the photo's 68 landmarks.
func (a *Animator) Landmarks() []face.Point { return append([]face.Point(nil), a.rest...) }

// Rest is the expression that reproduces the photo: its own mouth opening,
// nothing else. Points(a.Rest()) are the photo's landmarks and
// Render(dst, a.Rest()) is the photo, exactly when the photo's lips are
// apart; lips it shows closed are drawn closed, point on point, which may
// move the inner lip points a fraction of a pixel.
func (a *Animator) Rest() Expression {
	return Expression{MouthOpen: a.geo.gap / (MaxOpen * a.fr.s)}
}

// Render draws the frame for e into dst, which must have the photo's size
// (image.NewRGBA(a.Bounds())); reuse dst from frame to frame.
func (a *Animator) Render(dst *image.RGBA, e Expression) error {
	return a.RenderGaze(dst, a.Points(e), e.Gaze)
}

// RenderPoints draws into dst the photo warped so that its 68 landmarks
// move to pts, with a mouth interior painted between the inner lips where
// they are further apart than in the photo. Re-enactment calls this with
// points driven by another face; Points gives them for an Expression.
func (a *Animator) RenderPoints(dst *image.RGBA, pts []face.Point) error {
	return a.RenderGaze(dst, pts, face.Gaze{})
}

// RenderGaze is RenderPoints with the eyes turned by gaze from the
// photo's (see Expression.Gaze).
func (a *Animator) RenderGaze(dst *image.RGBA, pts []face.Point, gaze face.Gaze) error {
	if dst == nil || dst.Rect.Dx() != a.photo.Rect.Dx() || dst.Rect.Dy() != a.photo.Rect.Dy() {
		got := "nil"
		if dst != nil {
			got = fmt.Sprintf("%dx%d", dst.Rect.Dx(), dst.Rect.Dy())
		}
		return fmt.Errorf("animate: frame is %s, the photo is %dx%d", got, a.photo.Rect.Dx(), a.photo.Rect.Dy())
	}
	if len(pts) != face.NumLandmarks {
		return fmt.Errorf("animate: %d target points, need %d", len(pts), face.NumLandmarks)
	}
	to := append(a.controls(pts, gaze), a.from[len(a.from)-ringAnchors:]...)
	// Points never fold a triangle on ordinary faces; odd landmarks (a
	// brow end on the jaw line) or another face's driving points can, and
	// a fold tears the picture, so smooth out what is there.
	a.mesh.Untangle(a.from, to, len(to)-ringAnchors)
	copyImage(dst, a.photo)
	if err := a.mesh.Warp(dst, a.photo, a.from, to); err != nil {
		return fmt.Errorf("animate: %w", err)
	}
	a.paintMouth(dst, to[:face.NumLandmarks])
	return nil
}

// Folded counts the mesh triangles that the target points pts turn over.
// RenderPoints smooths such tangles out before it warps (a fold would show
// torn or doubled skin), at the cost of moving the points involved;
// re-enactment can use this to notice bad driving points. Points produces
// no folds on ordinary faces for expressions within their ranges.
func (a *Animator) Folded(pts []face.Point) int {
	if len(pts) != face.NumLandmarks {
		return a.mesh.Len()
	}
	to := append(a.controls(pts, face.Gaze{}), a.from[len(a.from)-ringAnchors:]...)
	return a.mesh.Folded(to)
}

// copyImage copies src (origin at 0,0) into dst of the same size.
func copyImage(dst, src *image.RGBA) {
	w := 4 * src.Rect.Dx()
	if dst.Stride == src.Stride && len(dst.Pix) >= len(src.Pix) && dst.Rect.Min == (image.Point{}) {
		copy(dst.Pix, src.Pix)
		return
	}
	for y := 0; y < src.Rect.Dy(); y++ {
		copy(dst.Pix[y*dst.Stride:y*dst.Stride+w], src.Pix[y*src.Stride:y*src.Stride+w])
	}
}
