// Package track follows faces through the frames of a video: it detects
// faces now and then, carries each one from frame to frame by re-running the
// landmarker where its landmarks were, keeps a stable id per face, and
// smooths the landmarks over time so that aligned crops do not jitter.
//
// How a face is followed, and when it is given up:
//
//   - The detector runs on the first frame, every DetectEvery frames, on
//     every frame while nothing is tracked, and on any frame where a track
//     failed or looks doubtful (below).
//   - Between detections each face is carried by the box that dlib's mean
//     shape fits to its previous landmarks (align.BoxFromShape), in the
//     face's own upright frame when it is tilted, and the landmarker is run
//     there. Tracking always starts from the raw landmarks, never the
//     smoothed ones, so smoothing adds no lag to the tracking itself.
//   - Cheap checks decide whether the new landmarks are still the face.
//     Hard failures drop the track at once: no landmarks, points that are
//     not finite, the face's centre leaving the frame, or a box refitted to
//     the new landmarks that overlaps the box they were predicted from by
//     less than MinStepIoU (the predictor's shape drifts away on things that
//     are not faces, as analyze uses for its plausibility check). Soft
//     signs only cast doubt: a large jump or change of scale between frames
//     (step IoU below DoubtIoU), or a sudden change of brightness or
//     contrast inside the face (a scene cut). A doubtful track asks for a
//     detection on the same frame, and is dropped if it does not confirm it.
//     After a cut only a detection that overlaps the track by ReseedIoU
//     confirms it (a face merely near the old one is a new face in a new
//     shot), and a track ended by a cut is not kept for revival.
//   - On detection frames, detections are matched to tracks by IoU
//     (greedily, best pair first). A confirmed track keeps its own landmarks
//     (re-seeding from the detector's box every few frames would make the
//     landmarks jump); it is re-seeded only if the detection overlaps its
//     box by less than ReseedIoU, i.e. the track has drifted. A track that
//     periodic detections miss MaxUnconfirmed times in a row is dropped: the
//     detector can miss a real face for a frame or two (a turned head), but
//     a face it never finds again is a ghost.
//   - A detection that matches no track first tries the tracks lost in the
//     last KeepLost frames (IoU with where they were lost), so that a face
//     lost for a moment gets its id back; otherwise it starts a new track
//     with a new id.
//   - Output landmarks are smoothed per coordinate with the 1€ filter.
package track

import (
	"image"
	"math"
	"sort"

	"github.com/facesynth/facesynth/internal/align"
	"github.com/facesynth/facesynth/internal/face"
)

// Detector finds faces in a grey frame. internal/detect.Detector satisfies it.
type Detector interface {
	Detect(g *image.Gray) []face.Face
}

// Landmarker places the 68 landmarks of one face, given a box (and tilt)
// from a detection or carried over by the tracker; nil when it cannot.
// internal/analyze.Analyzer satisfies it.
type Landmarker interface {
	Landmarks(g *image.Gray, f face.Face) []face.Point
}

// Options tune a Tracker. Zero (or negative) numeric fields take the value
// of DefaultOptions, so Options{Smooth: true} is a usable setting.
type Options struct {
	// DetectEvery is the detector's period in frames (default 10); 1 detects
	// on every frame.
	DetectEvery int
	// Smooth filters the output landmarks with the 1€ filter.
	Smooth bool
	// MinCutoff is the 1€ cutoff frequency in Hz for a still face (default
	// 1): lower removes more jitter and adds more lag to slow motion.
	MinCutoff float64
	// Beta raises the cutoff with speed, per face size per second (default
	// 20): higher follows fast motion more closely.
	Beta float64
	// DCutoff is the cutoff in Hz of the speed estimate (default 1).
	DCutoff float64
	// FPS is the frame rate the filter's frequencies refer to (default 25).
	FPS float64
	// MatchIoU is the least IoU for a detection to match a track (default 0.3).
	MatchIoU float64
	// ReseedIoU: a confirmed track whose box overlaps its detection by less
	// is re-seeded from the detection (default 0.5).
	ReseedIoU float64
	// MinStepIoU: a track whose refitted box overlaps the box it was
	// predicted from by less is lost (default 0.4).
	MinStepIoU float64
	// DoubtIoU: below this step IoU a track is confirmed by a detection on
	// the same frame (default 0.7).
	DoubtIoU float64
	// MaxUnconfirmed is how many periodic detections in a row may miss a
	// track before it is dropped (default 2).
	MaxUnconfirmed int
	// KeepLost is how many frames a lost track's id is kept for a face that
	// reappears where it was lost (default 25).
	KeepLost int
}

// DefaultOptions detects every 10 frames and smooths the landmarks.
func DefaultOptions() Options {
	return Options{
		DetectEvery:    10,
		Smooth:         true,
		MinCutoff:      1,
		Beta:           20,
		DCutoff:        1,
		FPS:            25,
		MatchIoU:       0.3,
		ReseedIoU:      0.5,
		MinStepIoU:     0.4,
		DoubtIoU:       0.7,
		MaxUnconfirmed: 2,
		KeepLost:       25,
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	pos := func(v *float64, def float64) {
		if !(*v > 0) || math.IsInf(*v, 0) {
			*v = def
		}
	}
	if o.DetectEvery <= 0 {
		o.DetectEvery = d.DetectEvery
	}
	pos(&o.MinCutoff, d.MinCutoff)
	pos(&o.Beta, d.Beta)
	pos(&o.DCutoff, d.DCutoff)
	pos(&o.FPS, d.FPS)
	pos(&o.MatchIoU, d.MatchIoU)
	pos(&o.ReseedIoU, d.ReseedIoU)
	pos(&o.MinStepIoU, d.MinStepIoU)
	pos(&o.DoubtIoU, d.DoubtIoU)
	if o.MaxUnconfirmed <= 0 {
		o.MaxUnconfirmed = d.MaxUnconfirmed
	}
	if o.KeepLost <= 0 {
		o.KeepLost = d.KeepLost
	}
	return o
}

// Tilt hysteresis: dlib's predictor copes with a face rolled by up to about
// 20° on its own, and running it on the original pixels (Angle 0) is both
// cheaper and exactly what dlib does. A tilted face is handed to the
// landmarker with its angle (an upright resampled view) once its roll
// exceeds tiltOn and handed back at tiltOff, so a face near the threshold
// does not flip between the two every frame (which would make it jitter).
const (
	tiltOn  = 20 * math.Pi / 180
	tiltOff = 12 * math.Pi / 180
)

// Scene-cut test on the face's inner box: a change of mean grey level by
// more than cutMean, or of its standard deviation by more than a factor
// cutContrast, between consecutive frames casts doubt on the track.
const (
	cutMean     = 20
	cutContrast = 1.5
)

// Stats count the work a Tracker has done.
type Stats struct {
	Frames     int // frames processed
	Detections int // frames the detector ran on
	Tracks     int // ids handed out
	Lost       int // tracks dropped
}

// Tracker follows faces through consecutive frames. It is not safe for
// concurrent use.
type Tracker struct {
	det    Detector
	lm     Landmarker
	opts   Options
	frame  int
	nextID int
	active []*track
	lost   []*track
	stats  Stats
}

type track struct {
	id      int
	raw     []face.Point // the landmarker's latest output
	shown   []face.Point // what Update reports (smoothed or raw)
	filters []oneEuro    // 2 per landmark
	tilted  bool         // handed to the landmarker with its roll angle
	box     face.Box     // refitted to raw, in the face's upright frame
	angle   float64      // roll used with box
	score   float64      // of the last detection that confirmed it
	missed  int          // periodic detections in a row that missed it
	doubt   bool         // this frame's checks asked for a detection
	cut     bool         // … because the picture changed (a scene cut)
	look    appearance   // grey statistics of the face in the last frame
	lostAt  int          // frame it was lost on (for lost tracks)
}

// New makes a Tracker. With a nil detector or landmarker Update finds
// nothing.
func New(det Detector, lm Landmarker, opts Options) *Tracker {
	return &Tracker{det: det, lm: lm, opts: opts.withDefaults(), nextID: 1}
}

// Options are the tracker's options with defaults filled in.
func (t *Tracker) Options() Options { return t.opts }

// Stats counts frames, detections and tracks so far.
func (t *Tracker) Stats() Stats { return t.stats }

// Update processes the next frame (frames must come in order) and returns
// its faces, sorted by track id, with their 68 landmarks, the box refitted
// to those landmarks (in the face's upright frame, with Angle its roll when
// the face is tilted) and a Track id (1, 2, …) that stays the same for the
// same face across frames. A nil frame returns nil and is not counted.
func (t *Tracker) Update(g *image.Gray) []face.Face {
	if g == nil || t.det == nil || t.lm == nil {
		return nil
	}
	n := t.frame
	t.frame++
	t.stats.Frames++

	// Carry every face over from the previous frame.
	needDetect := n%t.opts.DetectEvery == 0 || len(t.active) == 0
	kept := t.active[:0]
	for _, tr := range t.active {
		if t.follow(g, tr) {
			kept = append(kept, tr)
			needDetect = needDetect || tr.doubt
		} else {
			t.drop(tr, n)
			needDetect = true
		}
	}
	t.active = kept

	if needDetect {
		t.stats.Detections++
		t.associate(g, t.det.Detect(g), n)
	}
	t.dedupe(n)
	t.forget(n)

	out := make([]face.Face, 0, len(t.active))
	for _, tr := range t.active {
		t.smooth(tr)
		f := faceFromShape(tr.shown, tr.tilted)
		f.Score, f.Track = tr.score, tr.id
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Track < out[j].Track })
	return out
}

// follow re-runs the landmarker where the track's face was and checks the
// result; false means the track is lost.
func (t *Tracker) follow(g *image.Gray, tr *track) bool {
	prev := faceFromShape(tr.raw, tr.tilted)
	pts := t.lm.Landmarks(g, prev)
	if !usable(pts) {
		return false
	}
	next := faceFromShape(pts, tr.tilted)
	c := next.Box.Center()
	if c.X < 0 || c.Y < 0 || c.X > float64(g.Rect.Dx()-1) || c.Y > float64(g.Rect.Dy()-1) {
		return false
	}
	step := prev.Box.IoU(next.Box)
	if step < t.opts.MinStepIoU {
		return false
	}
	look := measure(g, next.Box)
	tr.cut = tr.look.cut(look)
	tr.doubt = tr.cut || step < t.opts.DoubtIoU
	t.setShape(tr, pts)
	tr.look = look
	return true
}

// associate matches this frame's detections to the tracks, re-seeds drifted
// tracks, revives lost ones and starts new ones.
func (t *Tracker) associate(g *image.Gray, dets []face.Face, n int) {
	type pair struct {
		iou  float64
		d, k int
	}
	var pairs []pair
	for d, det := range dets {
		for k, tr := range t.active {
			if iou := det.Box.IoU(tr.box); iou >= t.opts.MatchIoU {
				pairs = append(pairs, pair{iou, d, k})
			}
		}
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].iou > pairs[j].iou })
	usedDet := make([]bool, len(dets))
	confirmed := make([]bool, len(t.active))
	for _, p := range pairs {
		if usedDet[p.d] || confirmed[p.k] {
			continue
		}
		tr := t.active[p.k]
		if tr.cut && p.iou < t.opts.ReseedIoU {
			// After a cut, a face merely near the old one is a new face
			// in a new shot: leave the detection for a new track.
			continue
		}
		usedDet[p.d], confirmed[p.k] = true, true
		tr.missed, tr.score = 0, dets[p.d].Score
		if p.iou < t.opts.ReseedIoU {
			if pts := t.lm.Landmarks(g, dets[p.d]); usable(pts) {
				tr.tilted = math.Abs(dets[p.d].Angle) >= tiltOn
				t.setShape(tr, pts)
				tr.look = measure(g, tr.box)
			}
		}
	}

	kept := t.active[:0]
	for k, tr := range t.active {
		if !confirmed[k] {
			tr.missed++
			if tr.cut {
				// Not kept for revival: the shot it belonged to is over.
				t.stats.Lost++
				continue
			}
			if tr.doubt || tr.missed > t.opts.MaxUnconfirmed {
				t.drop(tr, n)
				continue
			}
		}
		tr.doubt, tr.cut = false, false
		kept = append(kept, tr)
	}
	t.active = kept

	for d, det := range dets {
		if usedDet[d] || t.overlapsActive(det.Box) {
			continue
		}
		pts := t.lm.Landmarks(g, det)
		if !usable(pts) {
			continue
		}
		tr := t.revive(det.Box)
		if tr == nil {
			t.stats.Tracks++
			tr = &track{id: t.nextID}
			t.nextID++
		}
		tr.tilted = math.Abs(det.Angle) >= tiltOn
		tr.score = det.Score
		t.setShape(tr, pts)
		tr.look = measure(g, tr.box)
		t.active = append(t.active, tr)
	}
}

// overlapsActive reports whether a detection left over after matching still
// overlaps a track (two detections on one face): it must not start a second
// track there.
func (t *Tracker) overlapsActive(b face.Box) bool {
	for _, tr := range t.active {
		if b.IoU(tr.box) >= t.opts.MatchIoU {
			return true
		}
	}
	return false
}

// revive takes back the lost track that best overlaps b, reset to start
// afresh, or returns nil.
func (t *Tracker) revive(b face.Box) *track {
	best, bestIoU := -1, t.opts.MatchIoU
	for i, tr := range t.lost {
		if iou := b.IoU(tr.box); iou >= bestIoU {
			best, bestIoU = i, iou
		}
	}
	if best < 0 {
		return nil
	}
	tr := t.lost[best]
	t.lost = append(t.lost[:best], t.lost[best+1:]...)
	return &track{id: tr.id}
}

func (t *Tracker) drop(tr *track, n int) {
	t.stats.Lost++
	tr.lostAt = n
	t.lost = append(t.lost, tr)
}

// dedupe drops the younger of two tracks that have converged on one face.
func (t *Tracker) dedupe(n int) {
	sort.Slice(t.active, func(i, j int) bool { return t.active[i].id < t.active[j].id })
	kept := t.active[:0]
	for _, tr := range t.active {
		dup := false
		for _, older := range kept {
			if tr.box.IoU(older.box) >= 0.5 {
				dup = true
				break
			}
		}
		if dup {
			t.drop(tr, n)
			continue
		}
		kept = append(kept, tr)
	}
	t.active = kept
}

// forget lets go of lost tracks older than KeepLost frames.
func (t *Tracker) forget(n int) {
	kept := t.lost[:0]
	for _, tr := range t.lost {
		if n-tr.lostAt <= t.opts.KeepLost {
			kept = append(kept, tr)
		}
	}
	t.lost = kept
}

// setShape stores new raw landmarks and the box and tilt derived from them.
func (t *Tracker) setShape(tr *track, pts []face.Point) {
	roll := rollOf(pts)
	switch {
	case !tr.tilted && math.Abs(roll) >= tiltOn:
		tr.tilted = true
	case tr.tilted && math.Abs(roll) < tiltOff:
		tr.tilted = false
	}
	tr.raw = pts
	f := faceFromShape(pts, tr.tilted)
	tr.box, tr.angle = f.Box, f.Angle
}

// smooth sets tr.shown from tr.raw.
func (t *Tracker) smooth(tr *track) {
	if !t.opts.Smooth {
		tr.shown = tr.raw
		return
	}
	if len(tr.filters) != 2*len(tr.raw) {
		tr.filters = make([]oneEuro, 2*len(tr.raw))
		for i := range tr.filters {
			tr.filters[i] = oneEuro{minCutoff: t.opts.MinCutoff, beta: t.opts.Beta, dCutoff: t.opts.DCutoff, rate: t.opts.FPS}
		}
	}
	scale := tr.box.Width()
	shown := make([]face.Point, len(tr.raw))
	for i, p := range tr.raw {
		shown[i] = face.Point{X: tr.filters[2*i].filter(p.X, scale), Y: tr.filters[2*i+1].filter(p.Y, scale)}
	}
	tr.shown = shown
}

func usable(pts []face.Point) bool {
	if len(pts) != face.NumLandmarks {
		return false
	}
	for _, p := range pts {
		if math.IsNaN(p.X) || math.IsNaN(p.Y) || math.IsInf(p.X, 0) || math.IsInf(p.Y, 0) {
			return false
		}
	}
	return face.EyeDistance(pts) >= 1
}

// rollOf is the face's in-plane rotation (clockwise positive, as
// face.Face.Angle): minus the rotation that aligns it upright.
func rollOf(pts []face.Point) float64 {
	return -align.ToCrop(pts, 1).Angle()
}

// faceFromShape is the face the landmarker should be given to find this
// face again: dlib's box for the shape, fitted in the face's upright frame
// and centred on it when the face is handled as tilted (Angle = roll), as
// analyze.Analyzer.Landmarks reads it; the plain image-axis box otherwise.
func faceFromShape(pts []face.Point, tilted bool) face.Face {
	if !tilted {
		return face.Face{Box: align.BoxFromShape(pts), Landmarks: pts}
	}
	roll := rollOf(pts)
	var c face.Point
	for _, p := range pts {
		c.X += p.X / float64(len(pts))
		c.Y += p.Y / float64(len(pts))
	}
	sin, cos := math.Sincos(roll)
	upright := make([]face.Point, len(pts))
	for i, p := range pts {
		dx, dy := p.X-c.X, p.Y-c.Y
		upright[i] = face.Point{X: c.X + cos*dx + sin*dy, Y: c.Y - sin*dx + cos*dy}
	}
	b := align.BoxFromShape(upright)
	bc := b.Center()
	dx, dy := bc.X-c.X, bc.Y-c.Y
	nc := face.Point{X: c.X + cos*dx - sin*dy, Y: c.Y + sin*dx + cos*dy}
	hw, hh := (b.Width()-1)/2, (b.Height()-1)/2
	return face.Face{
		Box:       face.Box{Left: nc.X - hw, Top: nc.Y - hh, Right: nc.X + hw, Bottom: nc.Y + hh},
		Angle:     roll,
		Landmarks: pts,
	}
}

// appearance is the grey-level mean and standard deviation of the middle of
// a face box: cheap to measure, and stable from frame to frame on the same
// face while a scene cut changes it at once.
type appearance struct {
	ok        bool
	mean, std float64
}

func measure(g *image.Gray, b face.Box) appearance {
	// The central half of the box: eyes, nose and mouth, little background.
	qw, qh := b.Width()/4, b.Height()/4
	r := image.Rect(int(b.Left+qw), int(b.Top+qh), int(b.Right-qw)+1, int(b.Bottom-qh)+1).Intersect(g.Rect)
	if r.Dx() < 4 || r.Dy() < 4 {
		return appearance{}
	}
	var s, ss float64
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for _, v := range g.Pix[g.PixOffset(r.Min.X, y):g.PixOffset(r.Max.X, y)] {
			s += float64(v)
			ss += float64(v) * float64(v)
		}
	}
	n := float64(r.Dx() * r.Dy())
	m := s / n
	return appearance{ok: true, mean: m, std: math.Sqrt(math.Max(ss/n-m*m, 0))}
}

// cut reports whether next looks like a different picture than a.
func (a appearance) cut(next appearance) bool {
	if !a.ok || !next.ok {
		return false
	}
	if math.Abs(next.mean-a.mean) > cutMean {
		return true
	}
	lo, hi := math.Max(a.std, 1), math.Max(next.std, 1)
	return hi/lo > cutContrast || lo/hi > cutContrast
}
