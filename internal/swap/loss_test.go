package swap

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/facesynth/facesynth/internal/torch"
)

func item(t *testing.T, x *torch.Tensor) float64 {
	t.Helper()
	v, err := x.Item()
	if err != nil {
		t.Fatal(err)
	}
	return float64(v)
}

func TestDSSIM(t *testing.T) {
	needTorch(t)
	torch.ManualSeed(4)
	torch.WithScope(func(*torch.Scope) {
		x := torch.Rand(2, 3, 32, 32)
		if d := item(t, dssim(x, x)); math.Abs(d) > 1e-6 {
			t.Errorf("DSSIM of an image with itself is %v, want 0", d)
		}
		// Independent uniform noise images share no structure: SSIM ≈ 0,
		// DSSIM ≈ 0.5. A brightness offset keeps the structure: DSSIM small.
		y := torch.Rand(2, 3, 32, 32)
		if d := item(t, dssim(x, y)); d < 0.4 || d > 0.6 {
			t.Errorf("DSSIM of independent noise %v, want ≈ 0.5", d)
		}
		shifted := torch.Clamp(torch.AddScalar(torch.MulScalar(x, 0.8), 0.1), 0, 1)
		if d := item(t, dssim(x, shifted)); d > 0.05 {
			t.Errorf("DSSIM of a contrast/brightness change %v, want < 0.05", d)
		}
	})
}

// The face term is the mean absolute error per masked pixel and channel;
// the mask term is BCE with logits.
func TestSideLoss(t *testing.T) {
	needTorch(t)
	torch.WithScope(func(*torch.Scope) {
		// One 1×2 image: pixel 0 in the mask (weight 1), pixel 1 half in.
		rgb := torch.FromFloat32([]float32{0.5, 0.5, 0.2, 0.2, 0.9, 0.9}, 1, 3, 1, 2)
		target := torch.FromFloat32([]float32{0.1, 0.5, 0.2, 0.6, 0.9, 0.4}, 1, 3, 1, 2)
		mask := torch.FromFloat32([]float32{1, 0.5}, 1, 1, 1, 2)
		logits := torch.FromFloat32([]float32{0, 2}, 1, 1, 1, 2)
		l := sideLoss(rgb, logits, target, mask, 1.5, lossConfig{mask: 2})
		// |diff|·m: pixel 0: 0.4+0+0 = 0.4; pixel 1: (0+0.4+0.5)·0.5 = 0.45.
		wantFace := (0.4 + 0.45) / (3 * 1.5)
		// BCE(σ(0), 1) = ln 2; BCE(σ(2), 0.5) = 0.5·ln(1+e⁻²) + 0.5·ln(1+e²).
		wantMask := (math.Ln2 + 0.5*math.Log(1+math.Exp(-2)) + 0.5*math.Log(1+math.Exp(2))) / 2
		if f := item(t, l.face); math.Abs(f-wantFace) > 1e-6 {
			t.Errorf("face loss %v, want %v", f, wantFace)
		}
		if m := item(t, l.mask); math.Abs(m-wantMask) > 1e-6 {
			t.Errorf("mask loss %v, want %v", m, wantMask)
		}
		if tot := item(t, l.total); math.Abs(tot-(wantFace+2*wantMask)) > 1e-6 {
			t.Errorf("total %v, want %v", tot, wantFace+2*wantMask)
		}
	})
}

// A NaN weight makes the loss NaN: the step fails with ErrNaN, is not
// counted, and Adam does not apply it.
func TestNaNLossStopsTraining(t *testing.T) {
	tr := newTestTrainer(t, 2, smallConfig())
	steps(t, tr, 1)
	if err := tr.Model.decoder[B].out.b.Fill(math.NaN()); err != nil {
		t.Fatal(err)
	}
	before := weights(t, tr.Model)
	_, err := tr.Step()
	if !errors.Is(err, ErrNaN) || !strings.Contains(err.Error(), "step 2, loss B") {
		t.Fatalf("step with a NaN weight: %v, want ErrNaN naming step 2 and side B", err)
	}
	if tr.StepCount() != 1 || tr.Optimizer().Steps() != 1 {
		t.Errorf("failed step counted: step %d, optimizer %d", tr.StepCount(), tr.Optimizer().Steps())
	}
	after := weights(t, tr.Model)
	if w := "encoder.conv1.weight"; !equalOrNaN(before[w], after[w]) {
		t.Error("the failed step changed the encoder's weights")
	}
}

func equalOrNaN(a, b []float32) bool {
	for i := range a {
		if a[i] != b[i] && !(a[i] != a[i] && b[i] != b[i]) {
			return false
		}
	}
	return len(a) == len(b)
}

// Train's own stopping: a cancelled context saves a checkpoint of the
// steps done and returns the context's error; a NaN ends with an error
// naming the last checkpoint; a time budget ends the run.
func TestTrainStops(t *testing.T) {
	needTorch(t)
	faces, _, _ := writeExtractFolder(t, 64, 2)
	cfg := smallConfig()
	base := Options{Arch: mustArch(t, "light"), Config: cfg, Steps: 1000, SaveEvery: 2, PreviewEvery: 1000}

	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		o := base
		o.Hooks = []Hook{{Name: "cancel", Every: 3, Run: func(*Run) error { cancel(); return nil }}}
		dir := filepath.Join(t.TempDir(), "m")
		res, err := Train(ctx, faces, faces, dir, o)
		if !errors.Is(err, context.Canceled) || res == nil || res.Step != 3 {
			t.Fatalf("cancelled at step 3: result %+v, error %v", res, err)
		}
		st, err := ReadState(dir)
		if err != nil || st.Step != 3 || st.History[len(st.History)-1].Step != 3 {
			t.Fatalf("checkpoint after cancel: %+v, %v; want step 3", st, err)
		}
		// The preview and loss curve of the final step are there too.
		if names := strings.Join(dirNames(t, dir), " "); !strings.Contains(names, PreviewFile) || !strings.Contains(names, LossPlotFile) {
			t.Errorf("model folder: %s", names)
		}
	})
	t.Run("nan", func(t *testing.T) {
		o := base
		o.Hooks = []Hook{{Name: "poison", Every: 4, Run: func(r *Run) error {
			return r.Trainer.Model.decoder[A].out.b.Fill(math.NaN())
		}}}
		_, err := Train(context.Background(), faces, faces, filepath.Join(t.TempDir(), "m"), o)
		if !errors.Is(err, ErrNaN) || !strings.Contains(err.Error(), "last checkpoint: step 4") {
			t.Fatalf("error %v, want ErrNaN at step 5 naming the checkpoint of step 4", err)
		}
	})
	t.Run("time", func(t *testing.T) {
		o := base
		o.Duration = 300 * time.Millisecond
		res, err := Train(context.Background(), faces, faces, filepath.Join(t.TempDir(), "m"), o)
		if err != nil || res.Step < 1 || res.Step >= 1000 || res.Seconds > 10 {
			t.Fatalf("300 ms budget: %+v, %v", res, err)
		}
	})
	t.Run("steps and resume", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "m")
		o := base
		o.Steps = 3
		if res, err := Train(context.Background(), faces, faces, dir, o); err != nil || res.Step != 3 {
			t.Fatalf("first run: %+v, %v", res, err)
		}
		res, err := Train(context.Background(), faces, faces, dir, Options{Resume: true, Steps: 5})
		if err != nil || res.Start != 3 || res.Step != 5 {
			t.Fatalf("resumed run: %+v, %v; want steps 3 → 5", res, err)
		}
	})
}
