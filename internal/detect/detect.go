// Package detect finds faces in a grey image with pigo's pixel-intensity
// comparison cascade (pure Go), searched at several in-plane rotations, and
// reports boxes calibrated to dlib's HOG detector so that dlib's shape
// predictor can be run on them.
package detect

import (
	"encoding/binary"
	"fmt"
	"image"
	"math"
	"os"
	"sort"

	pigo "github.com/esimov/pigo/core"

	"github.com/facesynth/facesynth/internal/assets"
	"github.com/facesynth/facesynth/internal/face"
)

// pigoModule and pigoVersion pin the module whose cascade file is read at
// run time; they must match go.mod.
const (
	pigoModule  = "github.com/esimov/pigo"
	pigoVersion = "v1.4.6"
)

// Options control the cascade search.
type Options struct {
	// MinSize and MaxSize bound the side of pigo's square search window in
	// pixels (pigo's window is about 1.3× dlib's box, see calibration.go).
	// MaxSize 0 means the image's shorter side.
	MinSize, MaxSize int
	// Angles are the in-plane rotations searched, in degrees, positive =
	// clockwise in image coordinates. pigo rotates its window in steps of
	// 1/32 turn (11.25°), so each angle is rounded to the nearest step and
	// duplicates are searched once.
	Angles []float64
	// ShiftFactor is the window step as a fraction of the window side,
	// ScaleFactor the ratio between successive window sizes.
	ShiftFactor, ScaleFactor float64
	// IoU is the overlap above which two windows are the same face, both
	// within one angle (pigo's clustering) and across angles.
	IoU float64
	// MinScore drops faces whose clustered pigo score is lower.
	MinScore float64
}

// DefaultOptions searches windows from 40 px (about a 30 px dlib box, a bit
// smaller than dlib's own 80 px window at upsample 1) at 0°, ±22.5° and ±45°.
// pigo's upright cascade tolerates roughly ±15° of tilt by itself, so steps
// of two table entries (22.5°) leave no gap up to about 60°.
func DefaultOptions() Options {
	return Options{
		MinSize:     40,
		MaxSize:     0,
		Angles:      []float64{0, -22.5, 22.5, -45, 45},
		ShiftFactor: 0.1,
		ScaleFactor: 1.1,
		IoU:         0.2,
		MinScore:    5,
	}
}

// Detector holds the unpacked cascade. It is read-only after New, so one
// Detector may be used from several goroutines.
type Detector struct {
	opts    Options
	steps   []int // rotation steps of 1/32 turn, pigo's sense, 0 first
	cascade *pigo.Pigo
}

// New loads pigo's face cascade from the module cache and checks the options.
func New(opts Options) (*Detector, error) {
	if opts.MinSize < 8 {
		return nil, fmt.Errorf("detect: MinSize %d is below 8 px", opts.MinSize)
	}
	if opts.MaxSize != 0 && opts.MaxSize < opts.MinSize {
		return nil, fmt.Errorf("detect: MaxSize %d is below MinSize %d", opts.MaxSize, opts.MinSize)
	}
	if !(opts.ShiftFactor > 0 && opts.ShiftFactor <= 1) {
		return nil, fmt.Errorf("detect: ShiftFactor %v is not in (0, 1]", opts.ShiftFactor)
	}
	if !(opts.ScaleFactor > 1 && opts.ScaleFactor <= 4) {
		return nil, fmt.Errorf("detect: ScaleFactor %v is not in (1, 4]", opts.ScaleFactor)
	}
	if !(opts.IoU > 0 && opts.IoU < 1) {
		return nil, fmt.Errorf("detect: IoU %v is not in (0, 1)", opts.IoU)
	}
	if len(opts.Angles) == 0 {
		return nil, fmt.Errorf("detect: no search angles")
	}
	steps, err := angleSteps(opts.Angles)
	if err != nil {
		return nil, err
	}
	path, err := assets.ModuleFile(pigoModule, pigoVersion, "cascade/facefinder")
	if err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	cascade, err := unpack(data)
	if err != nil {
		return nil, fmt.Errorf("detect: %s: %w", path, err)
	}
	opts.Angles = append([]float64(nil), opts.Angles...)
	return &Detector{opts: opts, steps: steps, cascade: cascade}, nil
}

// Options returns the options the detector was built with.
func (d *Detector) Options() Options { return d.opts }

// unpack checks the cascade's size against its header before handing it to
// pigo, whose Unpack indexes the bytes without bounds checks and would panic
// on a truncated file.
func unpack(data []byte) (*pigo.Pigo, error) {
	if len(data) < 16 {
		return nil, fmt.Errorf("cascade is %d bytes, too short for its header", len(data))
	}
	depth := binary.LittleEndian.Uint32(data[8:])
	trees := binary.LittleEndian.Uint32(data[12:])
	if depth == 0 || depth > 12 || trees == 0 || trees > 1<<16 {
		return nil, fmt.Errorf("cascade header (depth %d, %d trees) is not pigo's", depth, trees)
	}
	// Per tree: 4-byte codes for 2^depth-1 nodes, 2^depth float32 leaves and
	// one float32 threshold.
	want := 16 + int(trees)*(8<<depth)
	if len(data) != want {
		return nil, fmt.Errorf("cascade is %d bytes, its header implies %d", len(data), want)
	}
	return pigo.NewPigo().Unpack(data)
}

// angleSteps turns clockwise degrees into pigo's rotation-table indices.
// pigo's angle a (a fraction of a turn) rotates its window
// counter-clockwise on screen (rows grow downwards), so a face tilted
// clockwise by θ is found at a = 1 - θ/360.
func angleSteps(degrees []float64) ([]int, error) {
	seen := map[int]bool{}
	var steps []int
	for _, deg := range degrees {
		if math.IsNaN(deg) || math.Abs(deg) > 90 {
			return nil, fmt.Errorf("detect: search angle %v° is not within ±90°", deg)
		}
		s := int(math.Round(-deg*32/360)) & 31
		if !seen[s] {
			seen[s] = true
			steps = append(steps, s)
		}
	}
	// Upright first, then by growing tilt: only the order of equal-score
	// ties in the merge depends on it.
	sort.SliceStable(steps, func(i, j int) bool {
		return math.Abs(stepDegrees(steps[i])) < math.Abs(stepDegrees(steps[j]))
	})
	return steps, nil
}

// stepDegrees is the clockwise tilt, in degrees, that pigo's rotation
// step s finds (the inverse of angleSteps).
func stepDegrees(s int) float64 {
	if s > 16 {
		s -= 32
	}
	return -float64(s) * 360 / 32
}

// candidate is one clustered pigo window at one angle.
type candidate struct {
	x, y, side float64 // window centre and side in image pixels
	score      float64
	deg        float64 // clockwise tilt the window was found at
}

// Detect finds the faces in g. Each Face has Box (dlib-calibrated, see
// calibration.go), Score (pigo's clustered score) and Angle (radians,
// clockwise); Landmarks are nil. For a tilted face, Box is the upright box
// of the face in its own frame, placed at the face's centre: the face
// region is Box rotated by Angle about Box.Center(). Faces are sorted by
// score, best first.
func (d *Detector) Detect(g *image.Gray) []face.Face {
	if g == nil {
		return nil
	}
	w, h := g.Rect.Dx(), g.Rect.Dy()
	if w < d.opts.MinSize+2 || h < d.opts.MinSize+2 {
		return nil
	}
	maxSize := d.opts.MaxSize
	if maxSize == 0 || maxSize > min(w, h) {
		maxSize = min(w, h)
	}
	params := pigo.CascadeParams{
		MinSize:     d.opts.MinSize,
		MaxSize:     maxSize,
		ShiftFactor: d.opts.ShiftFactor,
		ScaleFactor: d.opts.ScaleFactor,
	}
	var cands []candidate
	var square []uint8 // padded copy for rotated search, made once
	for _, s := range d.steps {
		var dets []pigo.Detection
		if s == 0 {
			params.ImageParams = pigo.ImageParams{Pixels: g.Pix, Rows: h, Cols: w, Dim: g.Stride}
			dets = d.cascade.RunCascade(params, 0)
		} else {
			// pigo's rotated classifier clamps columns to the row count, so
			// it reads wrong pixels (or past the buffer) unless the image is
			// square: give it one, padded by repeating the edge.
			if square == nil {
				square = padSquare(g)
			}
			n := max(w, h)
			params.ImageParams = pigo.ImageParams{Pixels: square, Rows: n, Cols: n, Dim: n}
			dets = d.cascade.RunCascade(params, float64(s)/32)
		}
		dets = d.cascade.ClusterDetections(dets, d.opts.IoU)
		deg := stepDegrees(s)
		for _, det := range dets {
			x, y := float64(det.Col), float64(det.Row)
			if x >= float64(w) || y >= float64(h) {
				continue // centred in the padding
			}
			cands = append(cands, candidate{x: x, y: y, side: float64(det.Scale), score: float64(det.Q), deg: deg})
		}
	}
	cands = suppress(cands, d.opts.IoU)
	faces := make([]face.Face, 0, len(cands))
	for _, c := range cands {
		if c.score < d.opts.MinScore {
			continue
		}
		faces = append(faces, face.Face{
			Box:   dlibBox(c.x, c.y, c.side, c.deg),
			Score: c.score,
			Angle: c.deg * math.Pi / 180,
		})
	}
	return faces
}

// padSquare copies g into an n×n buffer, n = max(width, height), repeating
// the last column or row into the padding so windows near the edge see
// plausible pixels rather than a black bar.
func padSquare(g *image.Gray) []uint8 {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	n := max(w, h)
	out := make([]uint8, n*n)
	for y := 0; y < n; y++ {
		src := g.Pix[min(y, h-1)*g.Stride:][:w]
		row := out[y*n : (y+1)*n]
		copy(row, src)
		for x := w; x < n; x++ {
			row[x] = src[w-1]
		}
	}
	return out
}

// suppress keeps, best score first, each candidate whose window neither
// overlaps an already kept one by more than iou nor lies mostly inside it.
// The second rule drops the small windows that a rotated cascade fires on
// within a face (mouth and chin at ±45°): faces do not sit inside faces.
// Windows found at different angles are compared as upright squares about
// their centres, close enough for neighbouring angles.
func suppress(cands []candidate, iou float64) []candidate {
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].score > cands[j].score })
	var kept []candidate
	for _, c := range cands {
		dup := false
		for _, k := range kept {
			inter := squareOverlap(c, k)
			union := c.side*c.side + k.side*k.side - inter
			if inter > iou*union || inter > containedFraction*c.side*c.side {
				dup = true
				break
			}
		}
		if !dup {
			kept = append(kept, c)
		}
	}
	return kept
}

// containedFraction is how much of a weaker window may lie inside a
// stronger one before it counts as part of the same face.
const containedFraction = 0.5

func squareOverlap(a, b candidate) float64 {
	ox := math.Min(a.x+a.side/2, b.x+b.side/2) - math.Max(a.x-a.side/2, b.x-b.side/2)
	oy := math.Min(a.y+a.side/2, b.y+b.side/2) - math.Max(a.y-a.side/2, b.y-b.side/2)
	if ox <= 0 || oy <= 0 {
		return 0
	}
	return ox * oy
}
