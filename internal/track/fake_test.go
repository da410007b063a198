package track

import (
	"image"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/facesynth/facesynth/internal/align"
	"github.com/facesynth/facesynth/internal/face"
)

// scene is a synthetic video for the fakes: faces with known landmarks.
// The fake detector and landmarker read the current frame's truth from it,
// as a real detector and landmarker read it from the pixels.
type scene struct {
	faces   []trueFace // this frame's visible faces
	noise   float64    // landmark noise σ in px
	rng     *rand.Rand
	missing map[int]bool // ids the detector misses this frame
	calls   int          // detector calls
}

type trueFace struct {
	id          int
	cx, cy      float64 // centre
	size, roll  float64 // eye-to-eye scale in px, clockwise radians
	shape       []face.Point
	visibleLast bool
}

func newScene(noise float64) *scene {
	return &scene{noise: noise, rng: rand.New(rand.NewPCG(7, 9)), missing: map[int]bool{}}
}

// place puts the canonical face at a centre, size and roll.
func place(cx, cy, size, roll float64) []face.Point {
	c := align.Canonical()
	s := size / 0.2436 // canonical eye distance is 0.2436 of the unit square
	sin, cos := math.Sincos(roll)
	out := make([]face.Point, len(c))
	for i, p := range c {
		x, y := (p.X-0.5)*s, (p.Y-0.5)*s
		out[i] = face.Point{X: cx + cos*x - sin*y, Y: cy + sin*x + cos*y}
	}
	return out
}

func (s *scene) set(faces ...trueFace) {
	for i := range faces {
		faces[i].shape = place(faces[i].cx, faces[i].cy, faces[i].size, faces[i].roll)
	}
	s.faces = faces
}

type fakeDetector struct{ s *scene }

func (d fakeDetector) Detect(g *image.Gray) []face.Face {
	d.s.calls++
	var out []face.Face
	for _, f := range d.s.faces {
		if d.s.missing[f.id] {
			continue
		}
		// A detector's box is a little off from the landmark fit.
		b := align.BoxFromShape(f.shape)
		b.Left += 3
		b.Right += 3
		out = append(out, face.Face{Box: b, Score: 1, Angle: math.Round(f.roll/(math.Pi/8)) * math.Pi / 8})
	}
	return out
}

type fakeLandmarker struct{ s *scene }

// Landmarks returns the true shape of the face whose centre lies in the
// box, plus noise; on an empty box it returns a shrunken, shifted shape, as
// dlib's predictor drifts on background.
func (l fakeLandmarker) Landmarks(g *image.Gray, f face.Face) []face.Point {
	for _, tf := range l.s.faces {
		if tf.cx >= f.Box.Left && tf.cx <= f.Box.Right && tf.cy >= f.Box.Top && tf.cy <= f.Box.Bottom {
			out := make([]face.Point, len(tf.shape))
			for i, p := range tf.shape {
				out[i] = face.Point{X: p.X + l.s.noise*l.s.rng.NormFloat64(), Y: p.Y + l.s.noise*l.s.rng.NormFloat64()}
			}
			return out
		}
	}
	c := f.Box.Center()
	return place(c.X+f.Box.Width()*0.3, c.Y, f.Box.Width()*0.12, 0)
}

func gray(v uint8) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, 640, 480))
	for i := range g.Pix {
		g.Pix[i] = v
	}
	return g
}

func newFakeTracker(s *scene, opts Options) *Tracker {
	return New(fakeDetector{s}, fakeLandmarker{s}, opts)
}

// idsByTruth maps each output face to the true face it sits on.
func idsByTruth(t *testing.T, s *scene, got []face.Face) map[int]int {
	t.Helper()
	m := map[int]int{}
	for _, f := range got {
		c := f.Box.Center()
		for _, tf := range s.faces {
			if math.Hypot(c.X-tf.cx, c.Y-tf.cy) < tf.size {
				m[tf.id] = f.Track
			}
		}
	}
	return m
}

func TestTwoMovingFacesKeepTheirIDs(t *testing.T) {
	s := newScene(0.5)
	tk := newFakeTracker(s, Options{DetectEvery: 10, Smooth: true})
	g := gray(100)
	want := map[int]int{}
	for n := range 100 {
		// Two faces drifting toward each other and back, one turning.
		dx := 60 * math.Sin(float64(n)/15)
		s.set(trueFace{id: 1, cx: 180 + dx, cy: 240, size: 50, roll: 0.3 * math.Sin(float64(n)/10)},
			trueFace{id: 2, cx: 460 - dx, cy: 220 + dx/3, size: 40})
		got := tk.Update(g)
		if len(got) != 2 {
			t.Fatalf("frame %d: %d faces", n, len(got))
		}
		m := idsByTruth(t, s, got)
		if n == 0 {
			want = m
			if len(want) != 2 || want[1] == want[2] {
				t.Fatalf("frame 0: ids %v", m)
			}
			continue
		}
		if m[1] != want[1] || m[2] != want[2] {
			t.Fatalf("frame %d: ids %v, want %v", n, m, want)
		}
	}
	st := tk.Stats()
	if st.Detections != 10 || s.calls != 10 || st.Tracks != 2 || st.Lost != 0 {
		t.Errorf("stats %+v, detector calls %d: want 10 detections, 2 tracks, none lost", st, s.calls)
	}
}

func TestNewFaceGetsNewIDAtNextDetection(t *testing.T) {
	s := newScene(0)
	tk := newFakeTracker(s, Options{DetectEvery: 10})
	g := gray(100)
	for n := range 50 {
		faces := []trueFace{{id: 1, cx: 200, cy: 200, size: 50}}
		if n >= 33 {
			faces = append(faces, trueFace{id: 2, cx: 450, cy: 250, size: 50})
		}
		s.set(faces...)
		got := tk.Update(g)
		switch {
		case n < 40 && len(got) != 1:
			t.Fatalf("frame %d: %d faces before the next detection", n, len(got))
		case n >= 40 && (len(got) != 2 || got[0].Track != 1 || got[1].Track != 2):
			t.Fatalf("frame %d: %+v, want tracks 1 and 2", n, got)
		}
	}
}

func TestFaceThatLeavesIsDroppedAtOnce(t *testing.T) {
	s := newScene(0)
	tk := newFakeTracker(s, Options{DetectEvery: 10})
	g := gray(100)
	for n := range 30 {
		faces := []trueFace{{id: 1, cx: 200, cy: 200, size: 50}}
		if n < 15 {
			faces = append(faces, trueFace{id: 2, cx: 450, cy: 250, size: 50})
		}
		s.set(faces...)
		got := tk.Update(g)
		if want := map[bool]int{true: 2, false: 1}[n < 15]; len(got) != want {
			t.Fatalf("frame %d: %d faces, want %d", n, len(got), want)
		}
		if got[0].Track != 1 {
			t.Fatalf("frame %d: first face has id %d", n, got[0].Track)
		}
	}
	// The loss forced a detection on frame 15 besides 0, 10 and 20.
	if st := tk.Stats(); st.Lost != 1 || st.Detections != 4 {
		t.Errorf("stats %+v, want 1 lost and 4 detections", st)
	}
}

func TestDetectorMissesAreToleratedThenGhostsDropped(t *testing.T) {
	s := newScene(0)
	tk := newFakeTracker(s, Options{DetectEvery: 10, MaxUnconfirmed: 2})
	g := gray(100)
	for n := range 65 {
		s.set(trueFace{id: 1, cx: 200, cy: 200, size: 50})
		// The detector misses the face on frames 10 and 20 (tolerated),
		// finds it on 30, then misses it on 40, 50 and 60: the third miss
		// in a row drops it, as it would drop a ghost.
		s.missing[1] = n >= 10 && n < 30 || n >= 40
		got := tk.Update(g)
		switch {
		case n < 60 && (len(got) != 1 || got[0].Track != 1):
			t.Fatalf("frame %d: %+v, want track 1", n, got)
		case n >= 60 && len(got) != 0:
			t.Fatalf("frame %d: %d faces, want the track dropped after 3 misses", n, len(got))
		}
	}
	if st := tk.Stats(); st.Lost != 1 {
		t.Errorf("stats %+v, want the track dropped once", st)
	}
}

func TestLostFaceGetsItsIDBack(t *testing.T) {
	s := newScene(0)
	tk := newFakeTracker(s, Options{DetectEvery: 10})
	g := gray(100)
	for n := range 40 {
		faces := []trueFace{{id: 1, cx: 200, cy: 200, size: 50}}
		if n < 12 || n >= 16 {
			faces = append(faces, trueFace{id: 2, cx: 450, cy: 250, size: 50})
		}
		s.set(faces...)
		got := tk.Update(g)
		if n >= 20 {
			// Back on frame 16, found by the periodic detection on frame
			// 20, with its old id.
			if len(got) != 2 || got[1].Track != 2 {
				t.Fatalf("frame %d: %+v, want ids 1 and 2", n, got)
			}
		}
	}
	if st := tk.Stats(); st.Tracks != 2 {
		t.Errorf("stats %+v: %d ids handed out, want 2", st, st.Tracks)
	}
}

func TestSceneCutAsksForDetection(t *testing.T) {
	s := newScene(0)
	tk := newFakeTracker(s, Options{DetectEvery: 10})
	s.set(trueFace{id: 1, cx: 200, cy: 200, size: 50})
	for n := range 8 {
		v := uint8(100)
		if n >= 5 {
			v = 180 // a cut: same place, different picture
		}
		tk.Update(gray(v))
	}
	// Frame 0, and frame 5 for the cut.
	if st := tk.Stats(); st.Detections != 2 || st.Lost != 0 {
		t.Errorf("stats %+v, want 2 detections and the face kept (confirmed)", st)
	}
	// A cut to a picture without the face drops the track at once.
	s.set()
	if got := tk.Update(gray(30)); len(got) != 0 {
		t.Errorf("after a cut to an empty picture: %+v", got)
	}
}

func TestTiltedFaceIsHandedOverWithItsAngle(t *testing.T) {
	s := newScene(0)
	var seen []float64
	lm := recordingLandmarker{fakeLandmarker{s}, &seen}
	tk := New(fakeDetector{s}, lm, Options{DetectEvery: 10})
	for n := range 5 {
		s.set(trueFace{id: 1, cx: 300, cy: 240, size: 60, roll: 0.6})
		got := tk.Update(gray(90))
		if len(got) != 1 || math.Abs(got[0].Angle-0.6) > 1e-9 {
			t.Fatalf("frame %d: %+v, want one face at roll 0.6", n, got)
		}
	}
	for i, a := range seen[1:] {
		if math.Abs(a-0.6) > 1e-9 {
			t.Errorf("landmarker call %d got angle %v, want 0.6", i+1, a)
		}
	}
}

type recordingLandmarker struct {
	fakeLandmarker
	angles *[]float64
}

func (r recordingLandmarker) Landmarks(g *image.Gray, f face.Face) []face.Point {
	*r.angles = append(*r.angles, f.Angle)
	return r.fakeLandmarker.Landmarks(g, f)
}

// jitter is the mean frame-to-frame movement of the landmarks in the
// aligned 256 px crop of each frame: what a viewer of the crops sees shake.
func jitter(seq [][]face.Point) float64 {
	var sum float64
	var n int
	var prev []face.Point
	for _, pts := range seq {
		q := align.ToCrop(pts, 256).ApplyAll(pts)
		if prev != nil {
			for i := range q {
				sum += math.Hypot(q[i].X-prev[i].X, q[i].Y-prev[i].Y)
				n++
			}
		}
		prev = q
	}
	return sum / float64(n)
}

func TestSmoothingReducesJitterFake(t *testing.T) {
	run := func(smooth bool) (float64, float64) {
		s := newScene(1.0)
		tk := newFakeTracker(s, Options{DetectEvery: 10, Smooth: smooth})
		var seq [][]face.Point
		var lag float64
		for n := range 200 {
			// Slow sway, then a fast move across the frame.
			cx := 250 + 20*math.Sin(float64(n)/20)
			if n >= 100 {
				cx += math.Min(float64(n-100)*8, 200)
			}
			s.set(trueFace{id: 1, cx: cx, cy: 240, size: 50})
			got := tk.Update(gray(100))
			if len(got) != 1 {
				t.Fatalf("frame %d: %d faces", n, len(got))
			}
			seq = append(seq, got[0].Landmarks)
			lag = math.Max(lag, math.Abs(got[0].Landmarks[30].X-s.faces[0].shape[30].X))
		}
		return jitter(seq), lag
	}
	rawJ, rawLag := run(false)
	smJ, smLag := run(true)
	t.Logf("fake, noise σ=1 px: crop jitter %.3f → %.3f px, worst nose lag %.1f → %.1f px", rawJ, smJ, rawLag, smLag)
	if smJ > rawJ/2 {
		t.Errorf("smoothing cuts jitter only from %.3f to %.3f", rawJ, smJ)
	}
	// At 8 px/frame (200 px/s, 1.6 face widths/s) the filter may trail a little.
	if smLag > 12 {
		t.Errorf("smoothing lags %.1f px behind a fast move", smLag)
	}
}

func TestOneEuro(t *testing.T) {
	f := oneEuro{minCutoff: 1, beta: 20, dCutoff: 1, rate: 25}
	r := rand.New(rand.NewPCG(1, 2))
	var rawVar, outVar float64
	for i := range 500 {
		x := 100 + r.NormFloat64()
		y := f.filter(x, 100)
		if i >= 50 {
			rawVar += (x - 100) * (x - 100)
			outVar += (y - 100) * (y - 100)
		}
	}
	// A plain 1 Hz low-pass at 25 Hz keeps α/(2-α) = 11% of the variance;
	// the noise's own apparent speed raises the cutoff a little.
	if outVar > rawVar/3 {
		t.Errorf("still signal: variance %.2f → %.2f, want < 1/3", rawVar/450, outVar/450)
	}
	// A ramp of one face size per second: the lag settles below 5% of it.
	f = oneEuro{minCutoff: 1, beta: 20, dCutoff: 1, rate: 25}
	var y float64
	for i := range 100 {
		y = f.filter(float64(i)*4, 100)
	}
	if lag := 99*4 - y; lag < 0 || lag > 5 {
		t.Errorf("ramp lag %.2f px", lag)
	}
}

func TestBadInput(t *testing.T) {
	if got := New(nil, nil, Options{}).Update(gray(1)); got != nil {
		t.Errorf("nil detector: %+v", got)
	}
	s := newScene(0)
	tk := newFakeTracker(s, Options{DetectEvery: -3, MinCutoff: math.NaN(), Beta: math.Inf(1)})
	if o := tk.Options(); o.DetectEvery != 10 || o.MinCutoff != 1 || o.Beta != 20 {
		t.Errorf("defaults not filled: %+v", o)
	}
	if got := tk.Update(nil); got != nil || tk.Stats().Frames != 0 {
		t.Errorf("nil frame: %+v %+v", got, tk.Stats())
	}
	// A landmarker that returns garbage never creates a track.
	bad := New(fakeDetector{s}, badLandmarker{}, Options{})
	s.set(trueFace{id: 1, cx: 200, cy: 200, size: 50})
	if got := bad.Update(gray(1)); len(got) != 0 {
		t.Errorf("garbage landmarks gave %+v", got)
	}
}

type badLandmarker struct{}

func (badLandmarker) Landmarks(*image.Gray, face.Face) []face.Point {
	pts := make([]face.Point, face.NumLandmarks)
	pts[3].X = math.NaN()
	return pts
}
