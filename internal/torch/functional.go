package torch

import (
	"fmt"
	"math"
	"runtime"

	"github.com/facesynth/facesynth/internal/torch/shim"
)

// ConvOpts are a convolution's hyper-parameters, the same for every spatial
// dimension. Zero values mean PyTorch's defaults: stride 1, padding 0,
// dilation 1, groups 1, output padding 0. NoBias only matters to layer
// constructors (package nn).
type ConvOpts struct {
	Stride, Padding, Dilation, Groups int
	OutputPadding                     int // transposed convolutions only
	NoBias                            bool
}

func (o ConvOpts) lists(nd int) (stride, padding, dilation, outPad []int64, groups int64, err error) {
	st, dl, gr := o.Stride, o.Dilation, o.Groups
	if st == 0 {
		st = 1
	}
	if dl == 0 {
		dl = 1
	}
	if gr == 0 {
		gr = 1
	}
	if st < 0 || dl < 0 || gr < 0 || o.Padding < 0 || o.OutputPadding < 0 {
		return nil, nil, nil, nil, 0, fmt.Errorf("negative option in %+v", o)
	}
	rep := func(v int) []int64 {
		l := make([]int64, nd)
		for i := range l {
			l[i] = int64(v)
		}
		return l
	}
	return rep(st), rep(o.Padding), rep(dl), rep(o.OutputPadding), int64(gr), nil
}

func conv(op string, nd int, transposed bool, x, w, b *Tensor, o ConvOpts) *Tensor {
	if err := check(op, x, w); err != nil {
		return &Tensor{err: err}
	}
	if b != nil {
		if err := check(op, b); err != nil {
			return &Tensor{err: err}
		}
	}
	st, pd, dl, op2, gr, err := o.lists(nd)
	if err != nil {
		return errTensor(op, err)
	}
	h, err := shim.Conv(x.h, w.h, handleOrNil(b), st, pd, dl, op2, transposed, gr)
	runtime.KeepAlive(x)
	runtime.KeepAlive(w)
	runtime.KeepAlive(b)
	return newTensor(op, h, err)
}

// Conv2d convolves x (N, Cin, H, W) with w (Cout, Cin/groups, k, k); b
// (Cout) may be nil.
func Conv2d(x, w, b *Tensor, o ConvOpts) *Tensor { return conv("conv2d", 2, false, x, w, b, o) }

// Conv1d convolves x (N, Cin, L) with w (Cout, Cin/groups, k).
func Conv1d(x, w, b *Tensor, o ConvOpts) *Tensor { return conv("conv1d", 1, false, x, w, b, o) }

// ConvTranspose2d is Conv2d's adjoint, w (Cin, Cout/groups, k, k).
func ConvTranspose2d(x, w, b *Tensor, o ConvOpts) *Tensor {
	return conv("conv transpose2d", 2, true, x, w, b, o)
}

// Linear is x·wᵀ + b for w (out, in); b may be nil.
func Linear(x, w, b *Tensor) *Tensor {
	if err := check("linear", x, w); err != nil {
		return &Tensor{err: err}
	}
	if b != nil {
		if err := check("linear", b); err != nil {
			return &Tensor{err: err}
		}
	}
	h, err := shim.Linear(x.h, w.h, handleOrNil(b))
	runtime.KeepAlive(x)
	runtime.KeepAlive(w)
	runtime.KeepAlive(b)
	return newTensor("linear", h, err)
}

func pool(op string, code int, x *Tensor, kernel, stride, padding int) *Tensor {
	if err := check(op, x); err != nil {
		return &Tensor{err: err}
	}
	if kernel < 1 || stride < 0 || padding < 0 {
		return errTensor(op, fmt.Errorf("kernel %d, stride %d, padding %d", kernel, stride, padding))
	}
	if stride == 0 {
		stride = kernel
	}
	k, s, p := int64(kernel), int64(stride), int64(padding)
	h, err := shim.Pool2d(code, x.h, [2]int64{k, k}, [2]int64{s, s}, [2]int64{p, p}, false, true)
	runtime.KeepAlive(x)
	return newTensor(op, h, err)
}

// MaxPool2d takes the maximum of kernel×kernel windows; stride 0 means
// stride = kernel, as in PyTorch.
func MaxPool2d(x *Tensor, kernel, stride, padding int) *Tensor {
	return pool("max pool2d", shim.PoolMax, x, kernel, stride, padding)
}

// AvgPool2d averages kernel×kernel windows (padding counts as zeros).
func AvgPool2d(x *Tensor, kernel, stride, padding int) *Tensor {
	return pool("avg pool2d", shim.PoolAvg, x, kernel, stride, padding)
}

// AdaptiveAvgPool2d averages x down to an h×w grid.
func AdaptiveAvgPool2d(x *Tensor, h, w int) *Tensor {
	if err := check("adaptive avg pool2d", x); err != nil {
		return &Tensor{err: err}
	}
	out, err := shim.AdaptiveAvgPool2d(x.h, int64(h), int64(w))
	runtime.KeepAlive(x)
	return newTensor("adaptive avg pool2d", out, err)
}

// Interp is an image resampling mode.
type Interp int

const (
	Nearest  Interp = iota
	Bilinear        // align_corners=False, PyTorch's default
	BilinearAlignCorners
)

func upsample(op string, x *Tensor, h, w int64, sh, sw float64, mode Interp) *Tensor {
	if err := check(op, x); err != nil {
		return &Tensor{err: err}
	}
	code, align := shim.UpsampleNearest, false
	switch mode {
	case Nearest:
	case Bilinear:
		code = shim.UpsampleBilinear
	case BilinearAlignCorners:
		code, align = shim.UpsampleBilinear, true
	default:
		return errTensor(op, fmt.Errorf("unknown mode %d", mode))
	}
	if h < 1 || w < 1 {
		return errTensor(op, fmt.Errorf("output size %dx%d", w, h))
	}
	out, err := shim.Upsample2d(code, x.h, h, w, sh, sw, align)
	runtime.KeepAlive(x)
	return newTensor(op, out, err)
}

// Upsample scales the last two dimensions of x (N, C, H, W) by scale, as
// F.interpolate(x, scale_factor=scale, mode=…).
func Upsample(x *Tensor, scale float64, mode Interp) *Tensor {
	s := x.Shape()
	if s == nil {
		return &Tensor{err: x.Err()}
	}
	if len(s) != 4 || !(scale > 0) || math.IsInf(scale, 0) {
		return errTensor("upsample", fmt.Errorf("want a 4-D tensor and a positive scale, got shape %v scale %v", s, scale))
	}
	h, w := int64(math.Floor(float64(s[2])*scale)), int64(math.Floor(float64(s[3])*scale))
	if mode == BilinearAlignCorners {
		return upsample("upsample", x, h, w, 0, 0, mode) // align_corners ignores scales
	}
	return upsample("upsample", x, h, w, scale, scale, mode)
}

// Resize resamples the last two dimensions of x to h×w, as
// F.interpolate(x, size=(h, w), mode=…).
func Resize(x *Tensor, h, w int, mode Interp) *Tensor {
	return upsample("resize", x, int64(h), int64(w), 0, 0, mode)
}

// Padding modes of GridSample.
type GridPadding int

const (
	PadZeros GridPadding = iota
	PadBorder
	PadReflection
)

// GridSample samples x (N, C, H, W) at grid (N, Ho, Wo, 2), whose last
// dimension is an (x, y) position in [-1, 1], as F.grid_sample. Only
// Nearest, Bilinear and BilinearAlignCorners are meaningful modes.
func GridSample(x, grid *Tensor, mode Interp, pad GridPadding) *Tensor {
	if err := check("grid sample", x, grid); err != nil {
		return &Tensor{err: err}
	}
	code, align := 0, false // libtorch: 0 bilinear, 1 nearest
	switch mode {
	case Nearest:
		code = 1
	case Bilinear:
	case BilinearAlignCorners:
		align = true
	default:
		return errTensor("grid sample", fmt.Errorf("unknown mode %d", mode))
	}
	if pad < PadZeros || pad > PadReflection {
		return errTensor("grid sample", fmt.Errorf("unknown padding %d", pad))
	}
	h, err := shim.GridSample(x.h, grid.h, code, int(pad), align)
	runtime.KeepAlive(x)
	runtime.KeepAlive(grid)
	return newTensor("grid sample", h, err)
}

// optional checks tensors that may be nil.
func optional(op string, ts ...*Tensor) error {
	for _, t := range ts {
		if t != nil {
			if err := check(op, t); err != nil {
				return err
			}
		}
	}
	return nil
}

// BatchNorm normalises x per channel (dim 1). In training it uses the
// batch's statistics and updates runningMean/runningVar in place with
// momentum; otherwise it uses them. w, b, and the running tensors may be
// nil (no affine; no running statistics).
func BatchNorm(x, w, b, runningMean, runningVar *Tensor, training bool, momentum, eps float64) *Tensor {
	if err := check("batch norm", x); err != nil {
		return &Tensor{err: err}
	}
	if err := optional("batch norm", w, b, runningMean, runningVar); err != nil {
		return &Tensor{err: err}
	}
	h, err := shim.BatchNorm(x.h, handleOrNil(w), handleOrNil(b), handleOrNil(runningMean),
		handleOrNil(runningVar), training, momentum, eps)
	runtime.KeepAlive([]*Tensor{x, w, b, runningMean, runningVar})
	return newTensor("batch norm", h, err)
}

// InstanceNorm normalises each sample's channels over their spatial
// dimensions with the sample's own statistics; w, b (C) may be nil.
func InstanceNorm(x, w, b *Tensor, eps float64) *Tensor {
	if err := check("instance norm", x); err != nil {
		return &Tensor{err: err}
	}
	if err := optional("instance norm", w, b); err != nil {
		return &Tensor{err: err}
	}
	h, err := shim.InstanceNorm(x.h, handleOrNil(w), handleOrNil(b), eps)
	runtime.KeepAlive([]*Tensor{x, w, b})
	return newTensor("instance norm", h, err)
}

// GroupNorm normalises groups of channels per sample; w, b (C) may be nil.
func GroupNorm(x *Tensor, groups int, w, b *Tensor, eps float64) *Tensor {
	if err := check("group norm", x); err != nil {
		return &Tensor{err: err}
	}
	if err := optional("group norm", w, b); err != nil {
		return &Tensor{err: err}
	}
	h, err := shim.GroupNorm(x.h, int64(groups), handleOrNil(w), handleOrNil(b), eps)
	runtime.KeepAlive([]*Tensor{x, w, b})
	return newTensor("group norm", h, err)
}

// LayerNorm normalises over the trailing dimensions given by shape.
func LayerNorm(x *Tensor, shape []int64, w, b *Tensor, eps float64) *Tensor {
	if err := check("layer norm", x); err != nil {
		return &Tensor{err: err}
	}
	if err := optional("layer norm", w, b); err != nil {
		return &Tensor{err: err}
	}
	h, err := shim.LayerNorm(x.h, shape, handleOrNil(w), handleOrNil(b), eps)
	runtime.KeepAlive([]*Tensor{x, w, b})
	return newTensor("layer norm", h, err)
}

func loss(op string, code int, x, y *Tensor) *Tensor {
	if err := check(op, x, y); err != nil {
		return &Tensor{err: err}
	}
	h, err := shim.Loss(code, x.h, y.h, shim.ReduceMean)
	runtime.KeepAlive(x)
	runtime.KeepAlive(y)
	return newTensor(op, h, err)
}

// L1Loss is mean |x − y|.
func L1Loss(x, y *Tensor) *Tensor { return loss("l1 loss", shim.LossL1, x, y) }

// MSELoss is mean (x − y)².
func MSELoss(x, y *Tensor) *Tensor { return loss("mse loss", shim.LossMSE, x, y) }

// BCEWithLogits is the mean binary cross-entropy of sigmoid(x) against
// targets y, computed stably from the logits x.
func BCEWithLogits(x, y *Tensor) *Tensor {
	return loss("bce with logits", shim.LossBCEWithLogits, x, y)
}

// GRU runs a multi-layer GRU over input (L, N, in), or (N, L, in) when
// batchFirst, from hidden state h0 (layers, N, hidden). params hold per
// layer w_ih (3·hidden, in), w_hh (3·hidden, hidden) and, when hasBiases,
// b_ih, b_hh (3·hidden), in that order. It returns every step's output and
// the final hidden state.
func GRU(input, h0 *Tensor, params []*Tensor, hasBiases bool, layers int, dropout float64, train, batchFirst bool) (output, hn *Tensor) {
	if err := check("gru", append([]*Tensor{input, h0}, params...)...); err != nil {
		return &Tensor{err: err}, &Tensor{err: err}
	}
	per := 2
	if hasBiases {
		per = 4
	}
	if layers < 1 || len(params) != per*layers {
		err := errTensor("gru", fmt.Errorf("%d layers need %d parameter tensors, got %d", layers, per*layers, len(params)))
		return err, &Tensor{err: err.err}
	}
	hs := make([]shim.Handle, len(params))
	for i, p := range params {
		hs[i] = p.h
	}
	o, h, err := shim.GRU(input.h, h0.h, hs, hasBiases, int64(layers), dropout, train, batchFirst)
	runtime.KeepAlive(input)
	runtime.KeepAlive(h0)
	runtime.KeepAlive(params)
	if err != nil {
		e := errTensor("gru", err)
		return e, &Tensor{err: e.err}
	}
	return newTensor("gru", o, nil), newTensor("gru", h, nil)
}
