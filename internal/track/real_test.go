package track

import (
	"context"
	"errors"
	"image"
	"image/draw"
	"io"
	"math"
	"sync"
	"testing"

	"github.com/facesynth/facesynth/internal/analyze"
	"github.com/facesynth/facesynth/internal/detect"
	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/testmedia"
)

var (
	franckOnce sync.Once
	franck     []*image.RGBA
	franckErr  error
)

// franckFrames decodes the first n frames of franck.mp4 (cached for the
// package's tests; at most 501, which reaches the f0500 reference frame).
func franckFrames(t testing.TB, n int) []*image.RGBA {
	t.Helper()
	path := testmedia.Path(t, "franck.mp4")
	franckOnce.Do(func() {
		r, err := media.OpenVideo(context.Background(), path)
		if err != nil {
			franckErr = err
			return
		}
		defer r.Close()
		for range 501 {
			f := r.NewFrame()
			if err := r.Read(f); err != nil {
				if !errors.Is(err, io.EOF) {
					franckErr = err
				}
				return
			}
			franck = append(franck, f)
		}
	})
	if franckErr != nil {
		t.Fatal(franckErr)
	}
	if len(franck) < n {
		t.Fatalf("franck.mp4: %d frames decoded, want %d", len(franck), n)
	}
	return franck[:n]
}

func realModels(t testing.TB) (*detect.Detector, *analyze.Analyzer) {
	t.Helper()
	det, err := detect.New(detect.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	lm, err := analyze.Default()
	if err != nil {
		t.Fatal(err)
	}
	return det, lm
}

func reference(t testing.TB, stem string) []face.Point {
	t.Helper()
	res, err := face.ReadImageResult(testmedia.Reference(t, stem+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return face.FromJSON(res.Faces[0]).Landmarks
}

// relErr is the mean landmark distance over the outer-eye-corner distance
// of the reference.
func relErr(got, ref []face.Point) float64 {
	var s float64
	for i := range ref {
		s += math.Hypot(got[i].X-ref[i].X, got[i].Y-ref[i].Y)
	}
	return s / float64(len(ref)) / face.EyeDistance(ref)
}

// TestTrackFranck follows the face through the first 501 frames of
// franck.mp4 (one person, talking, moving his head).
func TestTrackFranck(t *testing.T) {
	if testing.Short() {
		t.Skip("501 frames of tracking: slow")
	}
	frames := franckFrames(t, 501)
	det, lm := realModels(t)
	tk := New(det, lm, DefaultOptions())
	var raw, smooth [][]face.Point
	for n, img := range frames {
		got := tk.Update(face.Gray(img))
		if len(got) != 1 || got[0].Track != 1 {
			t.Fatalf("frame %d: %d faces %+v, want exactly track 1", n, len(got), got)
		}
		smooth = append(smooth, got[0].Landmarks)
		raw = append(raw, tk.active[0].raw)
		for _, ref := range []struct {
			frame int
			stem  string
		}{{0, "franck_f0000"}, {500, "franck_f0500"}} {
			if n != ref.frame {
				continue
			}
			want := reference(t, ref.stem)
			er, es := relErr(raw[n], want), relErr(smooth[n], want)
			t.Logf("frame %d vs dlib: mean error %.2f%% (raw), %.2f%% (smoothed) of the eye distance %.1f px",
				n, 100*er, 100*es, face.EyeDistance(want))
			if er > 0.04 || es > 0.05 {
				t.Errorf("frame %d: landmarks %.2f%% / %.2f%% off dlib's reference", n, 100*er, 100*es)
			}
		}
	}
	jr, js := jitter(raw), jitter(smooth)
	st := tk.Stats()
	t.Logf("501 frames: %+v; aligned-crop jitter %.3f px raw → %.3f px smoothed (%.0f%% less)",
		st, jr, js, 100*(1-js/jr))
	var lag float64
	for i := range raw {
		lag += relErr(smooth[i], raw[i])
	}
	t.Logf("mean smoothed-vs-raw offset %.2f%% of the eye distance", 100*lag/float64(len(raw)))
	if st.Tracks != 1 || st.Lost != 0 {
		t.Errorf("stats %+v: want one track, never lost", st)
	}
	if js > 0.7*jr {
		t.Errorf("smoothing reduces the crop jitter only from %.3f to %.3f px", jr, js)
	}
}

// sideBySide puts two frames next to each other on a 760×300 canvas, each
// shifted by its own small motion, as a synthetic two-person video.
func sideBySide(a, b *image.RGBA, n int) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, 760, 300))
	ax := 6 + int(math.Round(5*math.Sin(float64(n)/6)))
	ay := 6 + int(math.Round(4*math.Cos(float64(n)/9)))
	bx := 394 + int(math.Round(5*math.Cos(float64(n)/7)))
	by := 6 + int(math.Round(5*math.Sin(float64(n)/5)))
	draw.Draw(out, a.Rect.Add(image.Pt(ax, ay)), a, image.Point{}, draw.Src)
	draw.Draw(out, b.Rect.Add(image.Pt(bx, by)), b, image.Point{}, draw.Src)
	return out
}

func TestTwoFacesSideBySide(t *testing.T) {
	if testing.Short() {
		t.Skip("60 frames of two-face tracking: slow")
	}
	frames := franckFrames(t, 501)
	det, lm := realModels(t)
	tk := New(det, lm, DefaultOptions())
	for n := range 60 {
		// Left: franck from frame n; right: franck from frame 300+n.
		img := sideBySide(frames[n], frames[300+n], n)
		got := tk.Update(face.Gray(img))
		if len(got) != 2 {
			t.Fatalf("frame %d: %d faces", n, len(got))
		}
		for _, f := range got {
			left := f.Box.Center().X < 380
			if want := map[bool]int{true: 1, false: 2}[left]; f.Track != want && n > 0 {
				t.Fatalf("frame %d: face at x=%.0f has id %d, want %d", n, f.Box.Center().X, f.Track, want)
			}
		}
		if n == 0 && got[0].Box.Center().X > got[1].Box.Center().X {
			t.Fatalf("frame 0: ids %d, %d not left to right; rest of the test assumes it", got[0].Track, got[1].Track)
		}
	}
	if st := tk.Stats(); st.Tracks != 2 || st.Lost != 0 {
		t.Errorf("stats %+v: want two tracks, none lost", st)
	}
}

// BenchmarkTrack is tracking with detection every 10 frames on franck.mp4
// (decoding excluded): frames per second.
func BenchmarkTrack(b *testing.B) {
	frames := franckFrames(b, 200)
	grays := make([]*image.Gray, len(frames))
	for i, f := range frames {
		grays[i] = face.Gray(f)
	}
	det, lm := realModels(b)
	var tk *Tracker
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%len(grays) == 0 {
			tk = New(det, lm, DefaultOptions()) // start over with the clip
		}
		tk.Update(grays[i%len(grays)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

// readFrames decodes the first n frames of a sample video.
func readFrames(t testing.TB, name string, n int) []*image.RGBA {
	t.Helper()
	fr, err := media.ReadFrames(context.Background(), testmedia.Path(t, name), n)
	if err != nil || len(fr) < n {
		t.Fatalf("%s: %d frames: %v", name, len(fr), err)
	}
	return fr
}

// A cut from franck.mp4 to another clip with the face elsewhere, on a
// frame without a periodic detection: the old track must end on the cut
// frame (no ghost carried into the new shot) and the new face must get a new
// id at once.
func TestSceneCutStartsNewTrack(t *testing.T) {
	if testing.Short() {
		t.Skip("60 frames of tracking: slow")
	}
	const cut = 25
	before := franckFrames(t, cut)
	after := readFrames(t, "cap13_edit2.mp4", 60-cut)
	det, lm := realModels(t)
	tk := New(det, lm, DefaultOptions())
	for n := range 60 {
		img := before[min(n, cut-1)]
		if n >= cut {
			// The 400×300 clip shifted 150 px left into franck's 360×288
			// frame: its face lands around x = 60, clear of franck's.
			img = image.NewRGBA(image.Rect(0, 0, 360, 288))
			draw.Draw(img, img.Rect, after[n-cut], image.Pt(150, 0), draw.Src)
		}
		got := tk.Update(face.Gray(img))
		if len(got) != 1 {
			t.Fatalf("frame %d: %d faces, want 1", n, len(got))
		}
		want := 1
		if n >= cut {
			want = 2
		}
		if got[0].Track != want {
			t.Fatalf("frame %d: track %d at %+v, want %d", n, got[0].Track, got[0].Box, want)
		}
		if n >= cut && got[0].Box.Center().X > 130 {
			t.Fatalf("frame %d: the face is at %+v, not on the new shot's face", n, got[0].Box)
		}
	}
	// One detection more than the periodic ones, on the cut.
	if st := tk.Stats(); st.Tracks != 2 || st.Lost != 1 || st.Detections != 7 {
		t.Errorf("stats %+v: want 2 tracks, 1 lost, 7 detections (0, 10, 20, 25, 30, 40, 50)", st)
	}
}
