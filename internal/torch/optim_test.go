//go:build cgo

package torch

import (
	"math"
	"path/filepath"
	"testing"
)

// adamRef is torch.optim.Adam/AdamW's update in float64, term by term.
func adamRef(p, g, m, v []float64, step int, c AdamConfig, decoupled bool) {
	bc1 := 1 - math.Pow(c.Beta1, float64(step))
	bc2 := 1 - math.Pow(c.Beta2, float64(step))
	for i := range p {
		gi := g[i]
		if decoupled {
			p[i] *= 1 - c.LR*c.WeightDecay
		} else {
			gi += c.WeightDecay * p[i]
		}
		m[i] = c.Beta1*m[i] + (1-c.Beta1)*gi
		v[i] = c.Beta2*v[i] + (1-c.Beta2)*gi*gi
		p[i] -= c.LR / bc1 * m[i] / (math.Sqrt(v[i])/math.Sqrt(bc2) + c.Eps)
	}
}

func TestAdamMatchesFormula(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cfg       AdamConfig
		decoupled bool
	}{
		{"adam", AdamDefaults(0.1), false},
		{"adam l2", AdamConfig{LR: 0.05, Beta1: 0.5, Beta2: 0.9, Eps: 1e-3, WeightDecay: 0.1}, false},
		{"adamw", AdamWDefaults(0.1), true},
		{"adam beta1=0", AdamConfig{LR: 0.01, Beta1: 0, Beta2: 0.99, Eps: 1e-8}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewScope()
			defer s.Close()
			init := []float64{1, -2, 3, 0.5}
			coef := []float64{2, -1, 0.5, 3}
			p := NewParams()
			defer p.Close()
			w := p.Add("w", FromFloat32([]float32{1, -2, 3, 0.5}), true)
			var opt *Adam
			var err error
			if tc.decoupled {
				opt, err = NewAdamW(p.Trainable(), tc.cfg)
			} else {
				opt, err = NewAdam(p.Trainable(), tc.cfg)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer opt.Close()
			ref, m, v := append([]float64{}, init...), make([]float64, 4), make([]float64, 4)
			c := FromFloat32([]float32{2, -1, 0.5, 3})
			for step := 1; step <= 5; step++ {
				// loss = Σ c·w² → grad 2·c·w.
				if err := opt.ZeroGrad(); err != nil {
					t.Fatal(err)
				}
				if err := Sum(Mul(c, Square(w))).Backward(); err != nil {
					t.Fatal(err)
				}
				g := make([]float64, 4)
				for i := range g {
					g[i] = 2 * coef[i] * ref[i]
				}
				if err := opt.Step(); err != nil {
					t.Fatal(err)
				}
				adamRef(ref, g, m, v, step, tc.cfg, tc.decoupled)
				near(t, "step", vals(t, w), ref, 1e-5) // float32 vs float64 over 5 steps
			}
			if opt.Steps() != 5 {
				t.Fatalf("Steps = %d, want 5", opt.Steps())
			}
		})
	}
}

func TestAdamSkipsParamsWithoutGrad(t *testing.T) {
	p := NewParams()
	defer p.Close()
	a := p.Add("a", FromFloat32([]float32{1}), true)
	b := p.Add("b", FromFloat32([]float32{1}), true)
	opt, err := NewAdam(p.Trainable(), AdamDefaults(0.1))
	if err != nil {
		t.Fatal(err)
	}
	defer opt.Close()
	s := NewScope()
	defer s.Close()
	if err := Sum(a).Backward(); err != nil {
		t.Fatal(err)
	}
	if err := opt.Step(); err != nil {
		t.Fatal(err)
	}
	// Adam's first step moves by lr·sign(g) (up to eps).
	near(t, "a", vals(t, a), []float64{0.9}, 1e-6)
	near(t, "b", vals(t, b), []float64{1}, 0)
	if opt.steps[1] != 0 || opt.steps[0] != 1 {
		t.Fatalf("steps %v, want [1 0]", opt.steps)
	}
	if _, err := NewAdam(p.Trainable(), AdamConfig{LR: 0.1, Beta1: 1, Beta2: 0.9}); err == nil {
		t.Fatal("beta1 = 1 accepted")
	}
	if _, err := NewAdam(nil, AdamDefaults(0.1)); err == nil {
		t.Fatal("empty parameter list accepted")
	}
	if _, err := NewAdam(append(p.Trainable(), p.Trainable()...), AdamDefaults(0.1)); err == nil {
		t.Fatal("duplicate parameters accepted")
	}
}

// TestAdamStateRoundTrip saves parameters and optimiser state mid-run and
// checks that a fresh model resumed from them takes bit-identical steps.
func TestAdamStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	build := func() (*Params, *Tensor, *Adam) {
		ManualSeed(1)
		p := NewParams()
		w := p.Uniform("layer.weight", 0.5, 3, 4)
		p.Constant("layer.running", 0, false, 3)
		opt, err := NewAdamW(p.Trainable(), AdamWDefaults(0.01))
		if err != nil {
			t.Fatal(err)
		}
		return p, w, opt
	}
	x := FromFloat32([]float32{1, 2, 3, 4, -1, 0.5, 0, 2}, 2, 4)
	defer x.Close()
	step := func(w *Tensor, opt *Adam) {
		s := NewScope()
		defer s.Close()
		if err := opt.ZeroGrad(); err != nil {
			t.Fatal(err)
		}
		if err := Mean(Square(Linear(x, w, nil))).Backward(); err != nil {
			t.Fatal(err)
		}
		if err := opt.Step(); err != nil {
			t.Fatal(err)
		}
	}
	p1, w1, o1 := build()
	defer p1.Close()
	defer o1.Close()
	for range 3 {
		step(w1, o1)
	}
	if err := p1.Save(filepath.Join(dir, "model.safetensors"), map[string]string{"step": "3"}); err != nil {
		t.Fatal(err)
	}
	if err := o1.Save(filepath.Join(dir, "opt.safetensors")); err != nil {
		t.Fatal(err)
	}
	ManualSeed(99) // the resumed model starts from other weights
	p2 := NewParams()
	defer p2.Close()
	w2 := p2.Uniform("layer.weight", 0.5, 3, 4)
	p2.Constant("layer.running", 7, false, 3)
	o2, err := NewAdamW(p2.Trainable(), AdamWDefaults(0.01))
	if err != nil {
		t.Fatal(err)
	}
	defer o2.Close()
	meta, err := p2.Load(filepath.Join(dir, "model.safetensors"))
	if err != nil || meta["step"] != "3" {
		t.Fatalf("Load: %v, meta %v", err, meta)
	}
	if err := o2.Load(filepath.Join(dir, "opt.safetensors")); err != nil {
		t.Fatal(err)
	}
	if o2.Steps() != 3 {
		t.Fatalf("resumed at step %d", o2.Steps())
	}
	near(t, "running buffer", vals(t, p2.Get("layer.running")), []float64{0, 0, 0}, 0)
	for range 2 {
		step(w1, o1)
		step(w2, o2)
	}
	a, b := vals(t, w1), vals(t, w2)
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Fatalf("resumed run differs at %d: %v vs %v", i, a[i], b[i])
		}
	}
	// A plain Adam refuses AdamW state.
	o3, _ := NewAdam(p2.Trainable(), AdamDefaults(0.01))
	defer o3.Close()
	if err := o3.Load(filepath.Join(dir, "opt.safetensors")); err == nil {
		t.Fatal("Adam loaded AdamW state")
	}
	// A model with another parameter set cannot load the checkpoint.
	p4 := NewParams()
	defer p4.Close()
	p4.Constant("other", 0, true, 2)
	if _, err := p4.Load(filepath.Join(dir, "model.safetensors")); err == nil {
		t.Fatal("loaded a checkpoint that lacks the parameter")
	}
	p5 := NewParams()
	defer p5.Close()
	p5.Constant("layer.weight", 0, true, 4, 3)
	if _, err := p5.Load(filepath.Join(dir, "model.safetensors")); err == nil {
		t.Fatal("loaded a checkpoint with another shape")
	}
}

func TestParams(t *testing.T) {
	p := NewParams()
	defer p.Close()
	enc := p.Sub("encoder")
	enc.Sub("conv1").Uniform("weight", 1, 2, 3)
	enc.Constant("bn.running_mean", 0, false, 2)
	p.Sub("decoder").Constant("bias", 0, true, 5)
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	names := func(ps []Param) (out []string) {
		for _, e := range ps {
			out = append(out, e.Name)
		}
		return out
	}
	if got := names(p.All()); len(got) != 3 || got[0] != "encoder.conv1.weight" || got[1] != "encoder.bn.running_mean" {
		t.Fatalf("All = %v", got)
	}
	if got := names(enc.Trainable()); len(got) != 1 || got[0] != "encoder.conv1.weight" {
		t.Fatalf("encoder trainable = %v", got)
	}
	if p.Count() != 6+5 {
		t.Fatalf("Count = %d", p.Count())
	}
	if !p.Get("encoder.conv1.weight").RequiresGrad() || p.Get("encoder.bn.running_mean").RequiresGrad() {
		t.Fatal("requires_grad not set as registered")
	}
	if err := p.Sub("decoder").Constant("bias", 0, true, 5).Err(); err == nil {
		t.Fatal("duplicate name accepted")
	}
	if p.Err() == nil {
		t.Fatal("duplicate name not recorded")
	}
	p.SetTraining(false)
	if enc.Training() {
		t.Fatal("training switch is not store-wide")
	}
	if err := p.To(CPU); err != nil {
		t.Fatal(err)
	}
	if !p.Get("encoder.conv1.weight").RequiresGrad() {
		t.Fatal("To lost requires_grad")
	}
	enc.Close()
	if len(p.All()) != 1 {
		t.Fatalf("after closing the encoder view: %v", names(p.All()))
	}
}

func TestKaimingBound(t *testing.T) {
	// kaiming_uniform(a=√5) is U(±1/√fan_in) up to rounding.
	for _, fan := range []int64{1, 75, 16384} {
		if got, want := KaimingBound(fan), 1/math.Sqrt(float64(fan)); math.Abs(got-want) > 1e-12 {
			t.Fatalf("KaimingBound(%d) = %v, want %v", fan, got, want)
		}
	}
}

func TestSSIM(t *testing.T) {
	s := NewScope()
	defer s.Close()
	ManualSeed(5)
	x := Rand(2, 3, 16, 16)
	if v, err := SSIM(x, x, 11, 1.5).Item(); err != nil || math.Abs(float64(v)-1) > 1e-5 {
		t.Fatalf("SSIM(x, x) = %v, %v", v, err)
	}
	y := Clamp(Add(x, MulScalar(Randn(2, 3, 16, 16), 0.3)), 0, 1)
	got, err := SSIM(x, y, 11, 1.5).Item()
	if err != nil {
		t.Fatal(err)
	}
	want := ssimRef(vals(t, x), vals(t, y), 2*3, 16, 16, 11, 1.5)
	if math.Abs(float64(got)-want) > 1e-4 || got > 0.95 || got < 0.3 {
		t.Fatalf("SSIM = %v, reference %v", got, want)
	}
	d, err := DSSIM(x, y, 11, 1.5).Item()
	if err != nil || math.Abs(float64(d)-(1-want)/2) > 1e-4 {
		t.Fatalf("DSSIM = %v (%v), want %v", d, err, (1-want)/2)
	}
	if err := SSIM(x, Rand(2, 3, 8, 8), 11, 1.5).Err(); err == nil {
		t.Fatal("SSIM of different shapes succeeded")
	}
	// Differentiable: the gradient flows back to y.
	if err := y.SetRequiresGrad(true); err != nil {
		t.Fatal(err)
	}
	if err := DSSIM(x, y, 11, 1.5).Backward(); err != nil {
		t.Fatal(err)
	}
	if g := y.Grad(); g.Err() != nil {
		t.Fatal(g.Err())
	}
}

// ssimRef computes SSIM with plain loops over "valid" windows.
func ssimRef(x, y []float32, planes, h, w, win int, sigma float64) float64 {
	g := make([]float64, win)
	var sum float64
	for i := range g {
		d := float64(i) - float64(win-1)/2
		g[i] = math.Exp(-d * d / (2 * sigma * sigma))
		sum += g[i]
	}
	const c1, c2 = 0.0001, 0.0009
	var total float64
	n := 0
	for p := range planes {
		for oy := 0; oy+win <= h; oy++ {
			for ox := 0; ox+win <= w; ox++ {
				var mx, my, sxx, syy, sxy float64
				for i := range win {
					for j := range win {
						k := g[i] * g[j] / (sum * sum)
						a := float64(x[p*h*w+(oy+i)*w+ox+j])
						b := float64(y[p*h*w+(oy+i)*w+ox+j])
						mx += k * a
						my += k * b
						sxx += k * a * a
						syy += k * b * b
						sxy += k * a * b
					}
				}
				vx, vy, cv := sxx-mx*mx, syy-my*my, sxy-mx*my
				total += (2*mx*my + c1) * (2*cv + c2) / ((mx*mx + my*my + c1) * (vx + vy + c2))
				n++
			}
		}
	}
	return total / float64(n)
}
