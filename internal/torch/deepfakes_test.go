//go:build cgo

package torch_test

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/facesynth/facesynth/internal/torch"
	"github.com/facesynth/facesynth/internal/torch/nn"
)

// The original 2017 DeepFakes autoencoder at 64×64, layer for layer as
// /work/shared/bench/deepfakes_reference.py defines it ("full"), and the
// same network with every channel count divided by 4 ("light").

// upscale is conv3×3 to 4·f channels, LeakyReLU(0.1), pixel shuffle ×2.
type upscale struct{ conv *nn.Conv2d }

func newUpscale(p *torch.Params, name string, in, f int) upscale {
	return upscale{nn.NewConv2d(p, name+".conv", in, f*4, 3, torch.ConvOpts{Padding: 1})}
}

func (u upscale) Forward(x *torch.Tensor) *torch.Tensor {
	return torch.PixelShuffle(torch.LeakyReLU(u.conv.Forward(x), 0.1), 2)
}

type deepfakes struct {
	convs  []*nn.Conv2d
	d1, d2 *nn.Linear
	up     upscale
	ups    []upscale
	out    *nn.Conv2d
	ch     func(int) int
}

func newDeepFakes(p *torch.Params, div int) *deepfakes {
	ch := func(c int) int { return c / div }
	e, d := p.Sub("0"), p.Sub("1") // nn.Sequential(Encoder(), Decoder())
	m := &deepfakes{ch: ch}
	in := 3
	for i, c := range []int{128, 256, 512, 1024} {
		m.convs = append(m.convs, nn.NewConv2d(e, fmt.Sprintf("convs.%d", i), in, ch(c), 5, torch.ConvOpts{Stride: 2, Padding: 2}))
		in = ch(c)
	}
	m.d1 = nn.NewLinear(e, "d1", 4*4*ch(1024), ch(1024))
	m.d2 = nn.NewLinear(e, "d2", ch(1024), 4*4*ch(1024))
	m.up = newUpscale(e, "up", ch(1024), ch(512))
	m.ups = []upscale{newUpscale(d, "ups.0", ch(512), ch(256)), newUpscale(d, "ups.1", ch(256), ch(128)),
		newUpscale(d, "ups.2", ch(128), ch(64))}
	m.out = nn.NewConv2d(d, "out", ch(64), 3, 5, torch.ConvOpts{Padding: 2})
	return m
}

func (m *deepfakes) Forward(x *torch.Tensor) *torch.Tensor {
	for _, c := range m.convs {
		x = torch.LeakyReLU(c.Forward(x), 0.1)
	}
	x = m.d2.Forward(m.d1.Forward(torch.Flatten(x, 1, -1)))
	x = m.up.Forward(torch.View(x, -1, int64(m.ch(1024)), 4, 4))
	for _, u := range m.ups {
		x = u.Forward(x)
	}
	return torch.Sigmoid(m.out.Forward(x))
}

type trainer struct {
	p     *torch.Params
	model *deepfakes
	opt   *torch.Adam
	x, y  *torch.Tensor
}

func newTrainer(tb testing.TB, variant string, batch int64) *trainer {
	tb.Helper()
	div := 1
	if variant == "light" {
		div = 4
	}
	torch.ManualSeed(0)
	p := torch.NewParams()
	m := newDeepFakes(p, div)
	if err := p.Err(); err != nil {
		tb.Fatal(err)
	}
	opt, err := torch.NewAdam(p.Trainable(), torch.AdamDefaults(5e-5))
	if err != nil {
		tb.Fatal(err)
	}
	return &trainer{p: p, model: m, opt: opt, x: torch.Rand(batch, 3, 64, 64), y: torch.Rand(batch, 3, 64, 64)}
}

func (t *trainer) step() error {
	s := torch.NewScope()
	defer s.Close()
	if err := t.opt.ZeroGrad(); err != nil {
		return err
	}
	if err := torch.L1Loss(t.model.Forward(t.x), t.y).Backward(); err != nil {
		return err
	}
	return t.opt.Step()
}

func (t *trainer) close() {
	t.opt.Close()
	t.p.Close()
	t.x.Close()
	t.y.Close()
}

// timed measures like the reference: warmup steps, then reps×iters steps,
// and returns the median, min and max rate in images per second.
func timed(tb testing.TB, fn func() error, batch, warmup, iters, reps int) (median, lo, hi float64) {
	for range warmup {
		if err := fn(); err != nil {
			tb.Fatal(err)
		}
	}
	var rates []float64
	for range reps {
		t0 := time.Now()
		for range iters {
			if err := fn(); err != nil {
				tb.Fatal(err)
			}
		}
		rates = append(rates, float64(iters*batch)/time.Since(t0).Seconds())
	}
	slices.Sort(rates)
	return rates[len(rates)/2], rates[0], rates[len(rates)-1]
}

// TestDeepFakesThroughput prints the acceptance benchmark in the
// reference's format when FACESYNTH_TORCH_BENCH lists variants, e.g.
//
//	FACESYNTH_TORCH_BENCH=light,full go test -run DeepFakesThroughput -v ./internal/torch/
//
// Run /usr/bin/python3 /work/shared/bench/deepfakes_reference.py beside it.
func TestDeepFakesThroughput(t *testing.T) {
	env := os.Getenv("FACESYNTH_TORCH_BENCH")
	if env == "" {
		t.Skip("set FACESYNTH_TORCH_BENCH=light,full to run the throughput benchmark")
	}
	runtime.LockOSThread() // one OpenMP pool, as in Python's single thread
	defer runtime.UnlockOSThread()
	if os.Getenv("FACESYNTH_TORCH_BENCH_STDIN") != "" {
		pairedReps(t, env)
		return
	}
	for _, v := range strings.Split(env, ",") {
		tr := newTrainer(t, v, 16)
		fmt.Printf("facesynth torch threads=%d params=%.1fM\n", torch.Threads(), float64(tr.p.Count())/1e6)
		med, lo, hi := timed(t, tr.step, 16, 3, 5, 3)
		fmt.Printf("RESULT facesynth %s train median %.2f img/s (min %.2f max %.2f) %s\n", v, med, lo, hi, memory())
		tr.close()
	}
}

// pairedReps serves testdata/paired_bench.py, which alternates single
// timed reps of this model and PyTorch's so both see the same machine
// load: after warm-up it prints READY, then times one rep of 5 steps per
// line read from stdin and prints "REP <img/s>", until EOF.
func pairedReps(t *testing.T, variant string) {
	tr := newTrainer(t, variant, 16)
	defer tr.close()
	for range 3 {
		if err := tr.step(); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Println("READY")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		t0 := time.Now()
		for range 5 {
			if err := tr.step(); err != nil {
				t.Fatal(err)
			}
		}
		fmt.Printf("REP %.3f\n", 5*16/time.Since(t0).Seconds())
	}
}

// memory is the process's resident and peak resident set size.
func memory() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return ""
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") || strings.HasPrefix(l, "VmHWM:") {
			out = append(out, strings.Join(strings.Fields(l), " "))
		}
	}
	return strings.Join(out, " ")
}

func benchmarkTrain(b *testing.B, variant string) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tr := newTrainer(b, variant, 16)
	defer tr.close()
	if err := tr.step(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if err := tr.step(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(16*b.N)/b.Elapsed().Seconds(), "img/s")
}

func BenchmarkDeepFakesTrainLight(b *testing.B) { benchmarkTrain(b, "light") }
func BenchmarkDeepFakesTrainFull(b *testing.B)  { benchmarkTrain(b, "full") }
