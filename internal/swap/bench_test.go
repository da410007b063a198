package swap

import (
	"context"
	"runtime"
	"testing"
)

func TestBenchProtocol(t *testing.T) {
	needTorch(t)
	rates, err := BenchTrain(context.Background(), mustArch(t, "light"), BenchConfig{Batch: 2, Warmup: 1, Iters: 1, Reps: 2})
	if err != nil || len(rates) != 2 || !(rates[0] > 0 && rates[1] > 0) {
		t.Fatalf("rates %v, %v; want two positive rates", rates, err)
	}
	if _, err := BenchInfer(context.Background(), mustArch(t, "light"), BenchConfig{Batch: 0, Iters: 1, Reps: 1}); err == nil {
		t.Error("batch 0 accepted")
	}
}

// BenchmarkTrainerStep is one product training step of light at batch 8
// (8 faces of each identity, augmentation, both losses, Adam).
func BenchmarkTrainerStep(b *testing.B) {
	c := DefaultConfig()
	c.Batch = 8
	tr := newTestTrainer(b, 1, c)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ResetTimer()
	for range b.N {
		if _, err := tr.Step(); err != nil {
			b.Fatal(err)
		}
	}
}
