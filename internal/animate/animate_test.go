package animate

import (
	"image"
	"image/color"
	"image/draw"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/facesynth/facesynth/internal/align"
	"github.com/facesynth/facesynth/internal/assets"
	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/plot"
	"github.com/facesynth/facesynth/internal/testmedia"
)

// The rest expression gives back the photo: its landmarks, and every pixel.
func TestRestReproducesPhoto(t *testing.T) {
	img, f, a := astronaut(t)
	rest := a.Rest()
	if rest.MouthOpen < 0.2 || rest.MouthOpen > 0.5 {
		t.Errorf("rest mouth opening %.3f: the astronaut smiles with her teeth showing (about 0.1 eye distances, 0.35 of MaxOpen)", rest.MouthOpen)
	}
	for i, p := range a.Points(rest) {
		if dist(p, f.Landmarks[i]) > 1e-9 {
			t.Fatalf("point %d: %v, the photo's is %v", i, p, f.Landmarks[i])
		}
	}
	dst := image.NewRGBA(a.Bounds())
	if err := a.Render(dst, rest); err != nil {
		t.Fatal(err)
	}
	if n, _ := differing(dst, img, image.Rectangle{}); n != 0 {
		t.Errorf("%d pixels differ from the photo", n)
	}
}

// Re-detected on the rendered frames, the inner lips part further with
// every step of MouthOpen, and about as far as asked.
func TestMouthOpensMonotonically(t *testing.T) {
	_, f, a := astronaut(t)
	dst := image.NewRGBA(a.Bounds())
	prev := -1.0
	var got []float64
	for _, open := range []float64{0, 0.25, 0.5, 0.75, 1} {
		e := Expression{MouthOpen: open}
		if err := a.Render(dst, e); err != nil {
			t.Fatal(err)
		}
		m := mouthOpening(redetect(t, dst, f.Box))
		want := mouthOpening(a.Points(e))
		got = append(got, m)
		if m <= prev+0.02 {
			t.Errorf("MouthOpen %.2f: re-detected opening %.3f, not above %.3f at the step before", open, m, prev)
		}
		if math.Abs(m-want) > 0.06 {
			t.Errorf("MouthOpen %.2f: re-detected opening %.3f, asked for %.3f", open, m, want)
		}
		prev = m
	}
	t.Logf("re-detected 62↔66 / eye distance at MouthOpen 0, .25, .5, .75, 1: %.3f", got)
}

// Eyes re-detected on a blink frame have a small aspect ratio.
func TestBlinkClosesEyes(t *testing.T) {
	_, f, a := astronaut(t)
	dst := image.NewRGBA(a.Bounds())
	var got []float64
	for _, b := range []float64{0, 0.5, 1} {
		if err := a.Render(dst, Expression{MouthOpen: 0.3, Blink: b}); err != nil {
			t.Fatal(err)
		}
		got = append(got, ear(redetect(t, dst, f.Box)))
	}
	t.Logf("eye aspect ratio at Blink 0, 0.5, 1: %.3f", got)
	if got[0] < 0.25 || got[0] > 0.4 {
		t.Errorf("open eyes: EAR %.3f, want about 0.3", got[0])
	}
	if !(got[1] < got[0] && got[2] < got[1]) {
		t.Errorf("EAR does not fall as the eyes close: %.3f", got)
	}
	if got[2] > 0.15 {
		t.Errorf("closed eyes: EAR %.3f, want < 0.15", got[2])
	}
	// In the points themselves the lids all but meet.
	if e := ear(a.Points(Expression{Blink: 1})); e > 0.05 {
		t.Errorf("target points at Blink 1: EAR %.3f", e)
	}
}

// extremes are expressions at the ends of every range, together.
func extremes() []Expression {
	var out []Expression
	for _, em := range Emotions {
		for _, open := range []float64{0, 0.5, 1, 1.5} {
			for _, width := range []float64{-1, 0, 1} {
				for _, round := range []float64{0, 1} {
					for _, blink := range []float64{0, 1} {
						for _, turn := range []float64{-MaxTurn, 0, MaxTurn} {
							out = append(out, Expression{
								MouthOpen: open, MouthWidth: width, LipRound: round, Blink: blink,
								BrowRaise: turn / MaxTurn, Yaw: turn, Pitch: -turn, Roll: turn, Emotion: em,
								LipsClosed: open == 1.5 && round == 1,
							})
						}
					}
				}
			}
		}
	}
	return out
}

// No expression within the documented ranges turns a triangle over.
func TestExpressionsDoNotFold(t *testing.T) {
	_, _, a := astronaut(t)
	ex := extremes()
	for _, e := range ex {
		if n := a.Folded(a.Points(e)); n != 0 {
			t.Errorf("%+v: %d triangles folded", e, n)
		}
	}
	// Far outside the ranges, Points clamps instead of tearing the face.
	wild := Expression{MouthOpen: 40, MouthWidth: -9, LipRound: 7, Blink: 3, BrowRaise: -5, Yaw: 2, Pitch: -3, Roll: math.NaN()}
	if n := a.Folded(a.Points(wild)); n != 0 {
		t.Errorf("out-of-range expression: %d triangles folded", n)
	}
	t.Logf("%d expressions checked", len(ex))
}

// Every pixel outside Region is the photo's, whatever the expression, and
// Region is a bounded neighbourhood of the face.
func TestOutsideRegionUnchanged(t *testing.T) {
	img, f, a := astronaut(t)
	r := a.Region()
	if !r.Overlaps(image.Rect(int(f.Box.Left), int(f.Box.Top), int(f.Box.Right), int(f.Box.Bottom))) {
		t.Fatalf("region %v misses the face %v", r, f.Box)
	}
	if area := r.Dx() * r.Dy(); area > img.Rect.Dx()*img.Rect.Dy()/5 {
		t.Errorf("region %v is %d%% of the photo", r, 100*area/(img.Rect.Dx()*img.Rect.Dy()))
	}
	if side := float64(max(r.Dx(), r.Dy())); side > 2.5*f.Box.Width() {
		t.Errorf("region %v reaches %.1f face widths", r, side/f.Box.Width())
	}
	dst := image.NewRGBA(a.Bounds())
	ex := extremes()
	changed := 0
	for i := 0; i < len(ex); i += 37 {
		if err := a.Render(dst, ex[i]); err != nil {
			t.Fatal(err)
		}
		all, outside := differing(dst, img, r)
		if outside != 0 {
			t.Fatalf("%+v: %d pixels outside %v changed", ex[i], outside, r)
		}
		changed = max(changed, all)
	}
	if changed < 500 {
		t.Errorf("the expressions changed at most %d pixels: nothing moved?", changed)
	}
	t.Logf("region %v (%.0f%% of the photo); up to %d pixels changed", r, 100*float64(r.Dx()*r.Dy())/float64(512*512), changed)
}

// Points level: each emotion moves corners, brows and lids as its name
// says, relative to the neutral face with the same mouth.
func TestEmotionsMoveFeatures(t *testing.T) {
	_, _, a := astronaut(t)
	fr := a.fr
	type feat struct{ cornerUp, cornerSpread, innerBrowUp, outerBrowUp, browGap, eyeOpen, mouthOpen float64 }
	measure := func(em Emotion) feat {
		p := a.Points(Expression{MouthOpen: 0.5, Emotion: em})
		v := func(i int) float64 { _, v := fr.local(p[i]); return v }
		u := func(i int) float64 { u, _ := fr.local(p[i]); return u }
		return feat{
			cornerUp:     -(v(48) + v(54)) / 2,
			cornerSpread: u(54) - u(48),
			innerBrowUp:  -(v(21) + v(22)) / 2,
			outerBrowUp:  -(v(17) + v(26)) / 2,
			browGap:      u(22) - u(21),
			eyeOpen:      ear(p),
			mouthOpen:    mouthOpening(p),
		}
	}
	n := measure(Neutral)
	const d = 0.02 // eye distances: more than a pixel on any usable face
	for _, c := range []struct {
		em   Emotion
		ok   func(f feat) bool
		want string
	}{
		{Happy, func(f feat) bool {
			return f.cornerUp > n.cornerUp+d && f.cornerSpread > n.cornerSpread+d && f.eyeOpen < n.eyeOpen
		},
			"corners up and out, eyes narrowed"},
		{Sad, func(f feat) bool {
			return f.cornerUp < n.cornerUp-d && f.innerBrowUp > n.innerBrowUp+d && f.innerBrowUp-f.outerBrowUp > n.innerBrowUp-n.outerBrowUp+d
		}, "corners down, inner brows up above the outer"},
		{Angry, func(f feat) bool {
			return f.innerBrowUp < n.innerBrowUp-d && f.browGap < n.browGap-d && f.cornerUp < n.cornerUp
		},
			"inner brows down and together, corners down"},
		{Surprised, func(f feat) bool {
			return f.innerBrowUp > n.innerBrowUp+d && f.outerBrowUp > n.outerBrowUp+d && f.eyeOpen > n.eyeOpen*1.15 && f.mouthOpen > n.mouthOpen+d
		}, "brows up, eyes wide, jaw dropped"},
	} {
		if f := measure(c.em); !c.ok(f) {
			t.Errorf("%v: want %s; got %+v, neutral %+v", c.em, c.want, f, n)
		}
	}
}

// Anatomy of the mouth and head motion at the points.
func TestPointsAnatomy(t *testing.T) {
	_, _, a := astronaut(t)
	fr := a.fr
	v := func(p []face.Point, i int) float64 { _, v := fr.local(p[i]); return v * fr.s }
	u := func(p []face.Point, i int) float64 { u, _ := fr.local(p[i]); return u * fr.s }
	shut, open := a.Points(Expression{}), a.Points(Expression{MouthOpen: 1})
	if gap := v(open, 66) - v(open, 62); math.Abs(gap-MaxOpen*fr.s) > 0.01 {
		t.Errorf("inner-lip gap at MouthOpen 1: %.2f px, want MaxOpen = %.2f px", gap, MaxOpen*fr.s)
	}
	drop := v(open, 66) - v(shut, 66)
	if drop < 0.8*MaxOpen*fr.s || drop > MaxOpen*fr.s {
		t.Errorf("lower lip dropped %.1f px for a %.1f px gap: the jaw should carry most of it", drop, MaxOpen*fr.s)
	}
	if lift := v(shut, 62) - v(open, 62); lift <= 0 || lift > 0.3*drop {
		t.Errorf("upper lip lifted %.1f px while the lower dropped %.1f: want a little", lift, drop)
	}
	if chin := v(open, 8) - v(shut, 8); math.Abs(chin-drop) > 0.15*drop {
		t.Errorf("chin dropped %.1f px, the lower lip %.1f: the jaw carries both", chin, drop)
	}
	if side := v(open, 2) - v(shut, 2); side > 0.15*drop {
		t.Errorf("jaw point 2 (below the ear) dropped %.1f px: the jaw turns about the ear", side)
	}
	for _, i := range []int{27, 30, 33, 36, 39, 42, 45, 17, 26} {
		if dist(open[i], shut[i]) > 1e-9 {
			t.Errorf("point %d moved with the mouth", i)
		}
	}
	if len(shut) != face.NumLandmarks || dist(shut[62], shut[66]) > 1e-9 {
		t.Errorf("closed lips: inner lips %v and %v", shut[62], shut[66])
	}
	width := func(e Expression) float64 { p := a.Points(e); return u(p, 54) - u(p, 48) }
	if w0, wide, narrow := width(Expression{}), width(Expression{MouthWidth: 1}), width(Expression{LipRound: 1}); !(wide > w0+3 && narrow < w0-3) {
		t.Errorf("mouth width: %.1f px spread, %.1f rest, %.1f rounded", wide, w0, narrow)
	}
	// Head motion: a yaw moves the nose tip further than the cheek
	// outline (it stands out in front), a roll turns the eye line.
	still, turned := a.Points(Expression{}), a.Points(Expression{Yaw: 0.1})
	if nose, jaw := u(turned, 30)-u(still, 30), u(turned, 0)-u(still, 0); !(nose > 1 && jaw > 0 && nose > jaw) {
		t.Errorf("yaw 0.1: nose tip moved %.2f px, jaw %.2f px", nose, jaw)
	}
	rolled := a.Points(Expression{Roll: 0.1})
	l, r := align.EyeCentres(rolled)
	if got := math.Atan2(r.Y-l.Y, r.X-l.X) - fr.angle(); math.Abs(got-0.1) > 1e-6 {
		t.Errorf("roll 0.1 turned the eye line by %.4f", got)
	}
	nod := a.Points(Expression{Pitch: 0.1})
	if d := v(nod, 33) - v(still, 33); d < 1 {
		t.Errorf("pitch 0.1 moved the nose %.2f px down", d)
	}
}

// A face that is not upright nor in the middle of a large picture moves
// along its own axes.
func TestTiltedFaceAnywhere(t *testing.T) {
	img, _, _ := astronaut(t)
	// Rotate the photo by 20° and put it off-centre in an 800×600 canvas.
	const deg = 20.0
	s, c := math.Sincos(deg * math.Pi / 180)
	tr := align.Transform{A: c, B: -s, D: s, E: c}
	tr.C, tr.F = 420-(c*256-s*256), 330-(s*256+c*256)
	canvas := image.NewRGBA(image.Rect(0, 0, 800, 600))
	draw.Draw(canvas, canvas.Rect, image.NewUniform(color.RGBA{90, 90, 100, 255}), image.Point{}, draw.Src)
	w := align.Warp(img, tr, 800, 600)
	draw.Draw(canvas, canvas.Rect, w, image.Point{}, draw.Over)
	f := largest(t, faces(t).Faces(canvas))
	a, err := New(canvas, f)
	if err != nil {
		t.Fatal(err)
	}
	// The astronaut's head is a little tilted in the photo already.
	_, _, upright := astronaut(t)
	want := deg + upright.fr.angle()*180/math.Pi
	if got := a.fr.angle() * 180 / math.Pi; math.Abs(got-want) > 2 {
		t.Fatalf("face frame at %.1f°, the face is at %.1f°", got, want)
	}
	shut, open := a.Points(Expression{}), a.Points(Expression{MouthOpen: 1})
	dx, dy := open[8].X-shut[8].X, open[8].Y-shut[8].Y
	if got := math.Atan2(-dx, dy) * 180 / math.Pi; math.Abs(got-want) > 2 {
		t.Errorf("the chin drops at %.1f° from the image's vertical, want %.1f° (the face's own)", got, want)
	}
	dst := image.NewRGBA(a.Bounds())
	if err := a.Render(dst, Expression{MouthOpen: 1}); err != nil {
		t.Fatal(err)
	}
	if m := mouthOpening(redetect(t, dst, f.Box)); m < 0.2 {
		t.Errorf("re-detected mouth opening %.3f on the tilted face, want > 0.2", m)
	}
	if _, outside := differing(dst, canvas, a.Region()); outside != 0 {
		t.Errorf("%d pixels outside the region changed", outside)
	}
}

// When the lips part, the mouth shows a painted interior: darker than the
// lips, with a bright band of teeth under the upper lip and a darker space
// below it, not a flat fill.
func TestMouthInterior(t *testing.T) {
	_, _, a := astronaut(t)
	dst := image.NewRGBA(a.Bounds())
	e := Expression{MouthOpen: 1}
	if err := a.Render(dst, e); err != nil {
		t.Fatal(err)
	}
	p := a.Points(e)
	sample := func(i, j int, k float64) float64 { // luminance k of the way from p[i] to p[j]
		x, y := p[i].X+(p[j].X-p[i].X)*k, p[i].Y+(p[j].Y-p[i].Y)*k
		return luminance(dst, int(math.Round(x)), int(math.Round(y)))
	}
	teeth := sample(62, 66, 0.15)
	cavity := sample(62, 66, 0.5)
	lowerLip := sample(66, 57, 0.5)
	t.Logf("luminance: teeth %.0f, cavity %.0f, lower lip %.0f", teeth, cavity, lowerLip)
	if !(teeth > cavity+60) {
		t.Errorf("teeth %.0f not clearly brighter than the cavity %.0f", teeth, cavity)
	}
	if !(cavity < lowerLip-50) {
		t.Errorf("cavity %.0f not clearly darker than the lip %.0f", cavity, lowerLip)
	}
	c := dst.RGBAAt(int(math.Round((p[62].X+p[66].X)/2)), int(math.Round((p[62].Y+p[66].Y)/2)))
	if !(c.R > c.B+5) {
		t.Errorf("cavity colour %v: a mouth's shadow is red-brown, not grey or black", c)
	}
	// Closing the lips again paints nothing.
	if err := a.Render(dst, Expression{LipsClosed: true}); err != nil {
		t.Fatal(err)
	}
	if l := sample(62, 57, 0.5); l < lowerLip-30 {
		t.Errorf("closed lips: luminance %.0f inside the lower lip", l)
	}
}

func TestNewBadInput(t *testing.T) {
	img, f, _ := astronaut(t)
	small := f
	small.Landmarks = nil
	for _, p := range f.Landmarks {
		small.Landmarks = append(small.Landmarks, face.Point{X: 100 + (p.X-200)/8, Y: 100 + (p.Y-120)/8})
	}
	nan := f
	nan.Landmarks = append([]face.Point(nil), f.Landmarks...)
	nan.Landmarks[30].X = math.NaN()
	away := f
	away.Landmarks = nil
	for _, p := range f.Landmarks {
		away.Landmarks = append(away.Landmarks, face.Point{X: p.X + 1000, Y: p.Y})
	}
	for _, c := range []struct {
		name  string
		photo image.Image
		f     face.Face
		want  string
	}{
		{"nil photo", nil, f, "empty photo"},
		{"empty photo", image.NewRGBA(image.Rectangle{}), f, "empty photo"},
		{"no landmarks", img, face.Face{Box: f.Box}, "0 landmarks"},
		{"tiny face", img, small, "too small"},
		{"nan", img, nan, "not finite"},
		{"off the photo", img, away, "outside"},
	} {
		_, err := New(c.photo, c.f)
		if err == nil || !strings.HasPrefix(err.Error(), "animate: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want animate: …%s…", c.name, err, c.want)
		}
	}
}

func TestRenderBadInput(t *testing.T) {
	_, _, a := astronaut(t)
	for name, err := range map[string]error{
		"nil frame":   a.Render(nil, Expression{}),
		"wrong size":  a.Render(image.NewRGBA(image.Rect(0, 0, 100, 100)), Expression{}),
		"few points":  a.RenderPoints(image.NewRGBA(a.Bounds()), a.Points(Expression{})[:60]),
		"bad emotion": func() error { _, err := ParseEmotion("smug"); return err }(),
	} {
		if err == nil || !strings.HasPrefix(err.Error(), "animate: ") {
			t.Errorf("%s: error %v, want animate: …", name, err)
		}
	}
	if n := a.Folded(nil); n == 0 {
		t.Error("Folded(nil) = 0")
	}
}

func TestParseEmotion(t *testing.T) {
	for _, em := range Emotions {
		got, err := ParseEmotion(" " + strings.ToUpper(em.String()) + " ")
		if err != nil || got != em {
			t.Errorf("ParseEmotion(%q) = %v, %v", em.String(), got, err)
		}
	}
	if s := Emotion(9).String(); s != "Emotion(9)" {
		t.Errorf("Emotion(9).String() = %q", s)
	}
}

// TestEmotionSheet renders the five emotions with the mouth half open and
// checks that they differ; with FACESYNTH_ANIMATE_SHEET=1 it also writes
// them side by side to out/animate/emotions.png for a person to look at.
func TestEmotionSheet(t *testing.T) {
	_, f, a := astronaut(t)
	cx, cy := f.Box.Center().X, f.Box.Center().Y
	side := int(1.9 * f.Box.Width())
	crop := image.Rect(int(cx)-side/2, int(cy)-side/2-side/10, int(cx)+side/2, int(cy)+side/2-side/10).Intersect(a.Bounds())
	const zoom, label = 2, 24
	sheet := image.NewRGBA(image.Rect(0, 0, len(Emotions)*crop.Dx()*zoom, crop.Dy()*zoom+label))
	draw.Draw(sheet, sheet.Rect, image.White, image.Point{}, draw.Src)
	frames := make([]*image.RGBA, len(Emotions))
	for k, em := range Emotions {
		frames[k] = image.NewRGBA(a.Bounds())
		if err := a.Render(frames[k], Expression{MouthOpen: 0.5, Emotion: em}); err != nil {
			t.Fatal(err)
		}
		for y := 0; y < crop.Dy()*zoom; y++ {
			for x := 0; x < crop.Dx()*zoom; x++ {
				sheet.SetRGBA(k*crop.Dx()*zoom+x, label+y, frames[k].RGBAAt(crop.Min.X+x/zoom, crop.Min.Y+y/zoom))
			}
		}
		name := strings.ToUpper(em.String())
		plot.Text(sheet, k*crop.Dx()*zoom+(crop.Dx()*zoom-plot.TextWidth(name, 2))/2, 4, name, color.Black, 2)
	}
	for k := 1; k < len(frames); k++ {
		if n, _ := differing(frames[k], frames[0], a.Region()); n < 100 {
			t.Errorf("%v differs from neutral in only %d pixels", Emotions[k], n)
		}
	}
	if os.Getenv("FACESYNTH_ANIMATE_SHEET") != "1" {
		return
	}
	root := assets.RepoRoot()
	if root == "" {
		t.Fatal("not inside the repository")
	}
	path := filepath.Join(root, "out", "animate", "emotions.png")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := media.SaveImage(path, sheet); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}

// BenchmarkRender is one 512×512 frame: the expression model, copy the
// photo, warp the face region, paint the mouth. Besides wall time it
// reports CPU time over all threads, which is steadier on a shared
// machine.
func BenchmarkRender(b *testing.B) {
	_, _, a := astronaut(b)
	dst := image.NewRGBA(a.Bounds())
	ex := []Expression{{MouthOpen: 0.2}, {MouthOpen: 0.9, Blink: 0.5, Yaw: 0.05}, {MouthOpen: 0.5, MouthWidth: 0.6, Emotion: Happy}}
	start := cpuTime()
	b.ResetTimer()
	for i := range b.N {
		if err := a.Render(dst, ex[i%len(ex)]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPoints is the expression model alone.
func BenchmarkPoints(b *testing.B) {
	_, _, a := astronaut(b)
	e := Expression{MouthOpen: 0.7, MouthWidth: 0.3, Blink: 0.4, BrowRaise: 0.3, Yaw: 0.05, Pitch: -0.02, Roll: 0.01, Emotion: Happy}
	for range b.N {
		_ = a.Points(e)
	}
}

// BenchmarkNew is preparing an Animator: photo copy, triangulation with
// the lip and eye outlines, palette.
func BenchmarkNew(b *testing.B) {
	img, f, _ := astronaut(b)
	b.ResetTimer()
	for range b.N {
		if _, err := New(img, f); err != nil {
			b.Fatal(err)
		}
	}
}

// A face near the picture's edge, in an image whose bounds do not start
// at the origin: the ring of anchors reaches past the edge, and the frame
// still changes only inside the region and opens the mouth.
func TestFaceAtPictureEdge(t *testing.T) {
	img, _, _ := astronaut(t)
	crop := img.SubImage(image.Rect(160, 45, 290, 200)).(*image.RGBA)
	f := largest(t, faces(t).Faces(crop))
	a, err := New(crop, f)
	if err != nil {
		t.Fatal(err)
	}
	if a.Bounds() != image.Rect(0, 0, 130, 155) {
		t.Fatalf("frame bounds %v", a.Bounds())
	}
	if r := a.Region(); r.Min.X > 0 && r.Min.Y > 0 && r.Max.X < 130 && r.Max.Y < 155 {
		t.Fatalf("region %v does not reach the edge: the test is not testing the edge", r)
	}
	dst := image.NewRGBA(a.Bounds())
	if err := a.Render(dst, Expression{MouthOpen: 1, Blink: 1, Yaw: 0.1}); err != nil {
		t.Fatal(err)
	}
	flat := image.NewRGBA(a.Bounds())
	draw.Draw(flat, flat.Rect, crop, crop.Rect.Min, draw.Src)
	if _, outside := differing(dst, flat, a.Region()); outside != 0 {
		t.Errorf("%d pixels outside the region changed", outside)
	}
	if err := a.Render(dst, Expression{MouthOpen: 1}); err != nil {
		t.Fatal(err)
	}
	if m := mouthOpening(redetect(t, dst, f.Box)); m < 0.2 {
		t.Errorf("re-detected mouth opening %.3f at the edge, want > 0.2", m)
	}
}

// Other people: the model is written in each face's own proportions, so
// it opens their mouths and closes their eyes as well, without folds.
// face_swapped.png is the hard case: its dlib brow end sits on the jaw
// line, so raised brows fold a triangle there in the model, which
// rendering must smooth out; and the predictor reads its bearded mouth
// poorly, so its frames are not re-detected.
func TestOtherFaces(t *testing.T) {
	if testing.Short() {
		t.Skip("re-detects faces on several photos")
	}
	for _, c := range []struct {
		name   string
		strict bool // the model itself must not fold, and frames are re-detected
	}{{"franck_f0000.png", true}, {"franck_f2500.png", true}, {"face_swapped.png", false}} {
		img, err := media.LoadImage(testmedia.Path(t, c.name))
		if err != nil {
			t.Fatal(err)
		}
		f := largest(t, faces(t).Faces(img))
		a, err := New(img, f)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		folds, left := 0, 0
		for _, e := range extremes() {
			pts := a.Points(e)
			folds += a.Folded(pts)
			to := append(a.controls(pts, face.Gaze{}), a.from[len(a.from)-ringAnchors:]...)
			left += a.mesh.Untangle(a.from, to, len(to)-ringAnchors)
		}
		if c.strict && folds != 0 {
			t.Errorf("%s: %d folded triangles over the extreme expressions", c.name, folds)
		}
		if left != 0 {
			t.Errorf("%s: %d folds left after untangling", c.name, left)
		}
		dst := image.NewRGBA(a.Bounds())
		if err := a.Render(dst, Expression{MouthOpen: 1, Blink: 1, Emotion: Surprised, Yaw: MaxTurn}); err != nil {
			t.Fatal(err)
		}
		if _, outside := differing(dst, img, a.Region()); outside != 0 {
			t.Errorf("%s: %d pixels outside the region changed", c.name, outside)
		}
		if !c.strict {
			t.Logf("%s: %d model folds over %d extreme expressions, all smoothed out", c.name, folds, len(extremes()))
			continue
		}
		var open, eye [2]float64
		for k, e := range []Expression{{}, {MouthOpen: 1, Blink: 1}} {
			if err := a.Render(dst, e); err != nil {
				t.Fatal(err)
			}
			p := redetect(t, dst, f.Box)
			open[k], eye[k] = mouthOpening(p), ear(p)
		}
		t.Logf("%s: re-detected mouth %.3f → %.3f, EAR %.3f → %.3f", c.name, open[0], open[1], eye[0], eye[1])
		if open[1] < open[0]+0.15 {
			t.Errorf("%s: re-detected mouth opening %.3f closed, %.3f open", c.name, open[0], open[1])
		}
		if eye[1] > 0.65*eye[0] {
			t.Errorf("%s: re-detected EAR %.3f open, %.3f in a blink", c.name, eye[0], eye[1])
		}
	}
}
