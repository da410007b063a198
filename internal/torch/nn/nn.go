// Package nn holds the layers models are written with: each registers its
// tensors in a torch.Params store under PyTorch's state_dict names,
// initialises them as PyTorch does (so a seeded model starts from the same
// weights), and has a Forward method, so that model code reads like the
// paper's figure:
//
//	x = torch.LeakyReLU(e.conv1.Forward(x), 0.1)
//
// Layers that behave differently in training (BatchNorm2d, Dropout) follow
// the store's Training switch.
package nn

import (
	"fmt"

	"github.com/facesynth/facesynth/internal/torch"
)

// Linear is y = x·Wᵀ + b, PyTorch's nn.Linear.
type Linear struct {
	Weight, Bias *torch.Tensor // (out, in), (out) or nil
}

// NewLinear registers name.weight and name.bias in p.
func NewLinear(p *torch.Params, name string, in, out int) *Linear {
	q := p.Sub(name)
	fan := int64(in)
	l := &Linear{Weight: q.Uniform("weight", torch.KaimingBound(fan), int64(out), int64(in))}
	l.Bias = q.Uniform("bias", torch.BiasBound(fan), int64(out))
	return l
}

func (l *Linear) Forward(x *torch.Tensor) *torch.Tensor { return torch.Linear(x, l.Weight, l.Bias) }

// Conv2d is PyTorch's nn.Conv2d with a square kernel.
type Conv2d struct {
	Weight, Bias *torch.Tensor // (out, in/groups, k, k), (out) or nil
	Opts         torch.ConvOpts
}

func groups(o torch.ConvOpts) int {
	if o.Groups == 0 {
		return 1
	}
	return o.Groups
}

// perGroup is a/groups, or 0 (rejected by conv) when the groups do not
// divide both channel counts.
func perGroup(a, b int, o torch.ConvOpts) int {
	g := groups(o)
	if g < 1 || a%g != 0 || b%g != 0 {
		return 0
	}
	return a / g
}

// conv registers a convolution weight of shape (a, b, k…) whose fan-in is
// b·k^dims, as PyTorch computes it from the weight's shape.
func conv(p *torch.Params, name string, a, b, biasLen, k, dims int, o torch.ConvOpts) (w, bias *torch.Tensor) {
	q := p.Sub(name)
	if b < 1 || a < 1 || k < 1 {
		// Also catches channel counts that the groups do not divide; the
		// error is kept in p.Err() and in every output of the layer.
		w = q.Add("weight", torch.Errorf("nn: %s: channels %d, %d and kernel %d with %d groups", q.Name(""), a, b, k, groups(o)), true)
		return w, nil
	}
	shape := []int64{int64(a), int64(b)}
	fan := int64(b)
	for range dims {
		shape = append(shape, int64(k))
		fan *= int64(k)
	}
	w = q.Uniform("weight", torch.KaimingBound(fan), shape...)
	if !o.NoBias {
		bias = q.Uniform("bias", torch.BiasBound(fan), int64(biasLen))
	}
	return w, bias
}

// NewConv2d registers name.weight and, unless o.NoBias, name.bias.
func NewConv2d(p *torch.Params, name string, in, out, kernel int, o torch.ConvOpts) *Conv2d {
	w, b := conv(p, name, out, perGroup(in, out, o), out, kernel, 2, o)
	return &Conv2d{Weight: w, Bias: b, Opts: o}
}

func (c *Conv2d) Forward(x *torch.Tensor) *torch.Tensor {
	return torch.Conv2d(x, c.Weight, c.Bias, c.Opts)
}

// Conv1d is PyTorch's nn.Conv1d.
type Conv1d struct {
	Weight, Bias *torch.Tensor // (out, in/groups, k), (out) or nil
	Opts         torch.ConvOpts
}

// NewConv1d registers name.weight and, unless o.NoBias, name.bias.
func NewConv1d(p *torch.Params, name string, in, out, kernel int, o torch.ConvOpts) *Conv1d {
	w, b := conv(p, name, out, perGroup(in, out, o), out, kernel, 1, o)
	return &Conv1d{Weight: w, Bias: b, Opts: o}
}

func (c *Conv1d) Forward(x *torch.Tensor) *torch.Tensor {
	return torch.Conv1d(x, c.Weight, c.Bias, c.Opts)
}

// ConvTranspose2d is PyTorch's nn.ConvTranspose2d with a square kernel.
type ConvTranspose2d struct {
	Weight, Bias *torch.Tensor // (in, out/groups, k, k), (out) or nil
	Opts         torch.ConvOpts
}

// NewConvTranspose2d registers name.weight and, unless o.NoBias,
// name.bias. Like PyTorch it takes the fan-in from the weight's second
// dimension (out/groups·k²).
func NewConvTranspose2d(p *torch.Params, name string, in, out, kernel int, o torch.ConvOpts) *ConvTranspose2d {
	w, b := conv(p, name, in, perGroup(out, in, o), out, kernel, 2, o)
	return &ConvTranspose2d{Weight: w, Bias: b, Opts: o}
}

func (c *ConvTranspose2d) Forward(x *torch.Tensor) *torch.Tensor {
	return torch.ConvTranspose2d(x, c.Weight, c.Bias, c.Opts)
}

// BatchNorm2d is PyTorch's nn.BatchNorm2d (affine, tracking running
// statistics): batch statistics in training, running ones in evaluation.
type BatchNorm2d struct {
	Weight, Bias, RunningMean, RunningVar *torch.Tensor
	Momentum, Eps                         float64
	p                                     *torch.Params
}

// NewBatchNorm2d registers name.weight, name.bias and the buffers
// name.running_mean and name.running_var.
func NewBatchNorm2d(p *torch.Params, name string, channels int) *BatchNorm2d {
	q, c := p.Sub(name), int64(channels)
	return &BatchNorm2d{
		Weight:      q.Constant("weight", 1, true, c),
		Bias:        q.Constant("bias", 0, true, c),
		RunningMean: q.Constant("running_mean", 0, false, c),
		RunningVar:  q.Constant("running_var", 1, false, c),
		Momentum:    0.1, Eps: 1e-5, p: p,
	}
}

func (b *BatchNorm2d) Forward(x *torch.Tensor) *torch.Tensor {
	return torch.BatchNorm(x, b.Weight, b.Bias, b.RunningMean, b.RunningVar, b.p.Training(), b.Momentum, b.Eps)
}

// InstanceNorm2d is PyTorch's nn.InstanceNorm2d (no running statistics),
// optionally affine.
type InstanceNorm2d struct {
	Weight, Bias *torch.Tensor // nil when not affine
	Eps          float64
}

// NewInstanceNorm2d registers name.weight and name.bias when affine.
func NewInstanceNorm2d(p *torch.Params, name string, channels int, affine bool) *InstanceNorm2d {
	n := &InstanceNorm2d{Eps: 1e-5}
	if affine {
		q, c := p.Sub(name), int64(channels)
		n.Weight, n.Bias = q.Constant("weight", 1, true, c), q.Constant("bias", 0, true, c)
	}
	return n
}

func (n *InstanceNorm2d) Forward(x *torch.Tensor) *torch.Tensor {
	return torch.InstanceNorm(x, n.Weight, n.Bias, n.Eps)
}

// GroupNorm is PyTorch's nn.GroupNorm (affine).
type GroupNorm struct {
	Groups       int
	Weight, Bias *torch.Tensor
	Eps          float64
}

// NewGroupNorm registers name.weight and name.bias.
func NewGroupNorm(p *torch.Params, name string, groups, channels int) *GroupNorm {
	q, c := p.Sub(name), int64(channels)
	return &GroupNorm{Groups: groups, Weight: q.Constant("weight", 1, true, c), Bias: q.Constant("bias", 0, true, c), Eps: 1e-5}
}

func (g *GroupNorm) Forward(x *torch.Tensor) *torch.Tensor {
	return torch.GroupNorm(x, g.Groups, g.Weight, g.Bias, g.Eps)
}

// LayerNorm is PyTorch's nn.LayerNorm over the trailing shape (affine).
type LayerNorm struct {
	Shape        []int64
	Weight, Bias *torch.Tensor
	Eps          float64
}

// NewLayerNorm registers name.weight and name.bias of the given shape.
func NewLayerNorm(p *torch.Params, name string, shape ...int64) *LayerNorm {
	q := p.Sub(name)
	return &LayerNorm{Shape: shape, Weight: q.Constant("weight", 1, true, shape...),
		Bias: q.Constant("bias", 0, true, shape...), Eps: 1e-5}
}

func (l *LayerNorm) Forward(x *torch.Tensor) *torch.Tensor {
	return torch.LayerNorm(x, l.Shape, l.Weight, l.Bias, l.Eps)
}

// Dropout zeroes elements with probability P while the store trains.
type Dropout struct {
	P float64
	p *torch.Params
}

// NewDropout follows p's Training switch; it has no parameters.
func NewDropout(p *torch.Params, prob float64) *Dropout { return &Dropout{P: prob, p: p} }

func (d *Dropout) Forward(x *torch.Tensor) *torch.Tensor {
	return torch.Dropout(x, d.P, d.p.Training())
}

// GRU is PyTorch's nn.GRU (unidirectional, with biases, batch first or
// not), with its parameter names: name.weight_ih_l0, name.weight_hh_l0,
// name.bias_ih_l0, name.bias_hh_l0, … per layer.
type GRU struct {
	Hidden, Layers int
	BatchFirst     bool
	Dropout        float64
	params         []*torch.Tensor
	p              *torch.Params
}

// NewGRU registers the GRU's weights, all drawn from U(±1/√hidden) as in
// PyTorch.
func NewGRU(p *torch.Params, name string, in, hidden, layers int, batchFirst bool) *GRU {
	q := p.Sub(name)
	g := &GRU{Hidden: hidden, Layers: layers, BatchFirst: batchFirst, p: p}
	b := torch.BiasBound(int64(hidden))
	h3 := int64(3 * hidden)
	for l := range layers {
		inL := int64(in)
		if l > 0 {
			inL = int64(hidden)
		}
		g.params = append(g.params,
			q.Uniform(fmt.Sprintf("weight_ih_l%d", l), b, h3, inL),
			q.Uniform(fmt.Sprintf("weight_hh_l%d", l), b, h3, int64(hidden)),
			q.Uniform(fmt.Sprintf("bias_ih_l%d", l), b, h3),
			q.Uniform(fmt.Sprintf("bias_hh_l%d", l), b, h3))
	}
	return g
}

// Forward runs the sequence x from hidden state h0 (Layers, N, Hidden);
// h0 nil means zeros. It returns all outputs and the final hidden state.
func (g *GRU) Forward(x, h0 *torch.Tensor) (out, hn *torch.Tensor) {
	if h0 == nil {
		n := x.Size(1)
		if g.BatchFirst {
			n = x.Size(0)
		}
		h0 = x.Device().Zeros(int64(g.Layers), n, int64(g.Hidden))
	}
	return torch.GRU(x, h0, g.params, true, g.Layers, g.Dropout, g.p.Training(), g.BatchFirst)
}
