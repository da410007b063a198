package swap

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/facesynth/facesynth/internal/torch"
)

// BenchConfig is the protocol of /work/shared/bench/deepfakes_reference.py:
// batch 16 of random 64×64 faces, 3 warm-up steps, then 3 repetitions of 5
// timed steps; the median repetition's rate is the result.
type BenchConfig struct {
	Batch, Warmup, Iters, Reps int
}

// DefaultBench is the reference script's protocol.
var DefaultBench = BenchConfig{Batch: 16, Warmup: 3, Iters: 5, Reps: 3}

// BenchTrain measures training throughput in faces per second, one rate
// per repetition, on the same work as the PyTorch reference: encoder and
// decoder A, L1 loss on the RGB output against random targets, Adam
// (PyTorch defaults, lr 5e-5) over the encoder and decoder A. Our decoder
// also computes its mask head in the forward pass; the loss does not use
// it, so it gets no backward pass, and its forward is one 5×5 convolution
// to a single channel at the output resolution (for "original", ~0.1 % of
// the step's FLOPs), so the protocol's work is unchanged in practice.
func BenchTrain(ctx context.Context, a Arch, c BenchConfig) ([]float64, error) {
	return bench(ctx, a, c, true)
}

// BenchInfer measures inference throughput (encoder and decoder A, no
// gradients) with the same protocol.
func BenchInfer(ctx context.Context, a Arch, c BenchConfig) ([]float64, error) {
	return bench(ctx, a, c, false)
}

func bench(ctx context.Context, a Arch, c BenchConfig, train bool) ([]float64, error) {
	if c.Batch < 1 || c.Iters < 1 || c.Reps < 1 || c.Warmup < 0 {
		return nil, fmt.Errorf("swap: bench: bad protocol %+v", c)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	torch.ManualSeed(0)
	m, err := New(a)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	opt, err := torch.NewAdam(m.SideParams(A), torch.AdamDefaults(5e-5))
	if err != nil {
		return nil, fmt.Errorf("swap: bench: %w", err)
	}
	defer opt.Close()
	s := int64(a.Size)
	x, y := torch.Rand(int64(c.Batch), 3, s, s), torch.Rand(int64(c.Batch), 3, s, s)
	defer x.Close()
	defer y.Close()

	step := func() error {
		scope := torch.NewScope()
		defer scope.Close()
		if !train {
			var err error
			torch.NoGrad(func() {
				rgb, _ := m.Decode(m.Encode(x), A)
				err = rgb.Err()
			})
			return err
		}
		if err := opt.ZeroGrad(); err != nil {
			return err
		}
		rgb, _ := m.Decode(m.Encode(x), A)
		if err := torch.L1Loss(rgb, y).Backward(); err != nil {
			return err
		}
		return opt.Step()
	}
	for range c.Warmup {
		if err := step(); err != nil {
			return nil, fmt.Errorf("swap: bench: %w", err)
		}
	}
	var rates []float64
	for range c.Reps {
		t0 := time.Now()
		for range c.Iters {
			if err := ctx.Err(); err != nil {
				return rates, err
			}
			if err := step(); err != nil {
				return nil, fmt.Errorf("swap: bench: %w", err)
			}
		}
		rates = append(rates, float64(c.Iters*c.Batch)/time.Since(t0).Seconds())
	}
	return rates, nil
}
