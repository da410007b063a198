package torch

import (
	"fmt"
	"math"
	"runtime"
	"strconv"

	"github.com/facesynth/facesynth/internal/torch/shim"
)

// AdamConfig are Adam's hyper-parameters, used as given (a zero Beta1 is a
// real choice in GAN training, so zero values are not replaced).
type AdamConfig struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
}

// AdamDefaults is torch.optim.Adam's defaults with learning rate lr.
func AdamDefaults(lr float64) AdamConfig {
	return AdamConfig{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
}

// AdamWDefaults is torch.optim.AdamW's defaults (weight decay 0.01).
func AdamWDefaults(lr float64) AdamConfig {
	c := AdamDefaults(lr)
	c.WeightDecay = 0.01
	return c
}

func (c AdamConfig) validate() error {
	switch {
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("learning rate %v must be positive", c.LR)
	case !(c.Beta1 >= 0 && c.Beta1 < 1), !(c.Beta2 >= 0 && c.Beta2 < 1):
		return fmt.Errorf("betas (%v, %v) must lie in [0, 1)", c.Beta1, c.Beta2)
	case !(c.Eps >= 0), !(c.WeightDecay >= 0):
		return fmt.Errorf("eps %v and weight decay %v must not be negative", c.Eps, c.WeightDecay)
	}
	return nil
}

// Adam is torch.optim.Adam, or AdamW (decoupled weight decay), over a list
// of parameters. Its state (exp_avg, exp_avg_sq, step per parameter)
// saves and loads, so a resumed run takes exactly the steps it would have.
// On the CPU one step is one fused pass over the parameters.
type Adam struct {
	Config    AdamConfig
	decoupled bool
	params    []Param
	expAvg    []*Tensor
	expAvgSq  []*Tensor
	steps     []int64
}

// NewAdam is Adam over params (e.g. p.Trainable(), or several views'
// lists joined). Create it after moving the parameters to their device.
func NewAdam(params []Param, c AdamConfig) (*Adam, error) { return newAdam("adam", params, c, false) }

// NewAdamW is AdamW: weight decay shrinks the weights directly instead of
// entering the gradient.
func NewAdamW(params []Param, c AdamConfig) (*Adam, error) { return newAdam("adamw", params, c, true) }

func newAdam(op string, params []Param, c AdamConfig, decoupled bool) (*Adam, error) {
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("torch: %s: %w", op, err)
	}
	if len(params) == 0 {
		return nil, fmt.Errorf("torch: %s: %w", op, errEmpty)
	}
	o := &Adam{Config: c, decoupled: decoupled, params: params, steps: make([]int64, len(params))}
	seen := map[string]bool{}
	for _, p := range params {
		if seen[p.Name] {
			o.Close()
			return nil, fmt.Errorf("torch: %s: parameter %q listed twice", op, p.Name)
		}
		seen[p.Name] = true
		m, v := fillLikeUnscoped(p.Tensor), fillLikeUnscoped(p.Tensor)
		o.expAvg, o.expAvgSq = append(o.expAvg, m), append(o.expAvgSq, v)
		if err := check(op, m, v); err != nil {
			o.Close()
			return nil, fmt.Errorf("torch: %s: state of %s: %w", op, p.Name, err)
		}
	}
	return o, nil
}

func fillLikeUnscoped(like *Tensor) *Tensor {
	if err := check("adam state", like); err != nil {
		return &Tensor{err: err}
	}
	h, err := shim.FillLike(shim.FillZeros, like.h, 0)
	runtime.KeepAlive(like)
	return newUnscoped("adam state", h, err)
}

// Step updates every parameter that has a gradient.
func (o *Adam) Step() error {
	if err := o.Config.validate(); err != nil {
		return fmt.Errorf("torch: adam step: %w", err)
	}
	ps, ms, vs := make([]shim.Handle, len(o.params)), make([]shim.Handle, len(o.params)), make([]shim.Handle, len(o.params))
	for i, p := range o.params {
		if err := check("adam step "+p.Name, p.Tensor, o.expAvg[i], o.expAvgSq[i]); err != nil {
			return err
		}
		ps[i], ms[i], vs[i] = p.Tensor.h, o.expAvg[i].h, o.expAvgSq[i].h
	}
	c := o.Config
	err := shim.AdamStep(ps, ms, vs, o.steps, c.LR, c.Beta1, c.Beta2, c.Eps, c.WeightDecay, o.decoupled)
	runtime.KeepAlive(o)
	if err != nil {
		return fmt.Errorf("torch: adam step: %w", err)
	}
	return nil
}

// ZeroGrad drops the parameters' gradients (set_to_none=True).
func (o *Adam) ZeroGrad() error {
	for _, p := range o.params {
		if err := p.Tensor.ClearGrad(); err != nil {
			return err
		}
	}
	return nil
}

// Minimize takes one step down loss: the parameters' old gradients are
// dropped, loss is back-propagated, and the parameters are updated. A GAN
// calls it once per network, each with its own optimizer, so one network's
// step never uses gradients left by the other's loss.
func (o *Adam) Minimize(loss *Tensor) error {
	if err := o.ZeroGrad(); err != nil {
		return err
	}
	if err := loss.Backward(); err != nil {
		return err
	}
	return o.Step()
}

// Steps is the number of updates the first parameter has had.
func (o *Adam) Steps() int64 { return o.steps[0] }

// Close frees the optimiser state (not the parameters).
func (o *Adam) Close() {
	for _, t := range o.expAvg {
		t.Close()
	}
	for _, t := range o.expAvgSq {
		t.Close()
	}
}

// Save writes the optimiser state to a safetensors file atomically:
// "<param>.exp_avg" and "<param>.exp_avg_sq" tensors, and each parameter's
// step count as metadata "<param>.step", with the hyper-parameters.
func (o *Adam) Save(path string) error {
	ts := map[string]*Tensor{}
	meta := map[string]string{
		"optimizer": "adam", "lr": ftoa(o.Config.LR), "beta1": ftoa(o.Config.Beta1),
		"beta2": ftoa(o.Config.Beta2), "eps": ftoa(o.Config.Eps), "weight_decay": ftoa(o.Config.WeightDecay),
	}
	if o.decoupled {
		meta["optimizer"] = "adamw"
	}
	for i, p := range o.params {
		ts[p.Name+".exp_avg"] = o.expAvg[i]
		ts[p.Name+".exp_avg_sq"] = o.expAvgSq[i]
		meta[p.Name+".step"] = strconv.FormatInt(o.steps[i], 10)
	}
	return SaveSafetensors(path, ts, meta)
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// Load restores state saved by Save for the same parameter names; the
// hyper-parameters stay those of o.Config (a resumed run may change them).
func (o *Adam) Load(path string) error {
	ts, meta, err := LoadSafetensors(path)
	if err != nil {
		return err
	}
	defer func() {
		for _, t := range ts {
			t.Close()
		}
	}()
	want := "adam"
	if o.decoupled {
		want = "adamw"
	}
	if meta["optimizer"] != want {
		return fmt.Errorf("torch: load %s: optimizer state is %q, want %q", path, meta["optimizer"], want)
	}
	// Check everything before copying anything, so a bad file leaves the
	// optimiser as it was.
	steps := make([]int64, len(o.params))
	type pair struct{ dst, src *Tensor }
	var copies []pair
	for i, p := range o.params {
		s, err := strconv.ParseInt(meta[p.Name+".step"], 10, 64)
		if err != nil || s < 0 {
			return fmt.Errorf("torch: load %s: no valid step count for %s", path, p.Name)
		}
		steps[i] = s
		for _, st := range []struct {
			name string
			dst  *Tensor
		}{{p.Name + ".exp_avg", o.expAvg[i]}, {p.Name + ".exp_avg_sq", o.expAvgSq[i]}} {
			src, ok := ts[st.name]
			if !ok {
				return fmt.Errorf("torch: load %s: %s missing", path, st.name)
			}
			if !sameShape(src.Shape(), st.dst.Shape()) {
				return fmt.Errorf("torch: load %s: %s has shape %v, parameter %v", path, st.name, src.Shape(), st.dst.Shape())
			}
			copies = append(copies, pair{st.dst, src})
		}
	}
	for _, c := range copies {
		if err := c.dst.CopyFrom(c.src); err != nil {
			return fmt.Errorf("torch: load %s: %w", path, err)
		}
	}
	copy(o.steps, steps)
	return nil
}
