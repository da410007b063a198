package torch

import (
	"fmt"
	"math"
	"runtime"

	"github.com/facesynth/facesynth/internal/torch/shim"
)

// KeepDim and DropDim name the keepdim argument of reductions.
const (
	KeepDim = true
	DropDim = false
)

func unary(op string, code int, x *Tensor) *Tensor {
	if err := check(op, x); err != nil {
		return &Tensor{err: err}
	}
	h, err := shim.Unary(code, x.h)
	runtime.KeepAlive(x)
	return newTensor(op, h, err)
}

func scalarOp(op string, code int, x *Tensor, a, b float64) *Tensor {
	if err := check(op, x); err != nil {
		return &Tensor{err: err}
	}
	h, err := shim.Scalar(code, x.h, a, b)
	runtime.KeepAlive(x)
	return newTensor(op, h, err)
}

func binaryOp(op string, code int, a, b *Tensor) *Tensor {
	if err := check(op, a, b); err != nil {
		return &Tensor{err: err}
	}
	h, err := shim.Binary(code, a.h, b.h)
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	return newTensor(op, h, err)
}

func reduce(op string, code int, x *Tensor, dims []int64, keepDim, unbiased bool) *Tensor {
	if err := check(op, x); err != nil {
		return &Tensor{err: err}
	}
	h, err := shim.Reduce(code, x.h, dims, keepDim, unbiased)
	runtime.KeepAlive(x)
	return newTensor(op, h, err)
}

func shapeOp(op string, code int, x *Tensor, args ...int64) *Tensor {
	if err := check(op, x); err != nil {
		return &Tensor{err: err}
	}
	h, err := shim.ShapeOp(code, x.h, args)
	runtime.KeepAlive(x)
	return newTensor(op, h, err)
}

// Activations.

func ReLU(x *Tensor) *Tensor     { return unary("relu", shim.OpReLU, x) }
func Sigmoid(x *Tensor) *Tensor  { return unary("sigmoid", shim.OpSigmoid, x) }
func Tanh(x *Tensor) *Tensor     { return unary("tanh", shim.OpTanh, x) }
func Softplus(x *Tensor) *Tensor { return unary("softplus", shim.OpSoftplus, x) }
func GELU(x *Tensor) *Tensor     { return unary("gelu", shim.OpGELU, x) }
func SiLU(x *Tensor) *Tensor     { return unary("silu", shim.OpSiLU, x) }

// LeakyReLU is x for x ≥ 0 and slope·x below.
func LeakyReLU(x *Tensor, slope float64) *Tensor {
	return scalarOp("leaky relu", shim.OpLeakyReLU, x, slope, 0)
}

// Softmax normalises exp(x) to sum 1 along dim.
func Softmax(x *Tensor, dim int64) *Tensor {
	return scalarOp("softmax", shim.OpSoftmax, x, float64(dim), 0)
}

// LogSoftmax is log(Softmax(x, dim)), computed stably.
func LogSoftmax(x *Tensor, dim int64) *Tensor {
	return scalarOp("log softmax", shim.OpLogSoftmax, x, float64(dim), 0)
}

// Dropout zeroes elements with probability p and scales the rest by
// 1/(1-p) when train is true; it is the identity otherwise.
func Dropout(x *Tensor, p float64, train bool) *Tensor {
	if p < 0 || p > 1 || math.IsNaN(p) {
		return errTensor("dropout", fmt.Errorf("probability %v outside [0, 1]", p))
	}
	t := 0.0
	if train {
		t = 1
	}
	return scalarOp("dropout", shim.OpDropout, x, p, t)
}

// Elementwise arithmetic; tensors broadcast as in PyTorch.

func Add(a, b *Tensor) *Tensor     { return binaryOp("add", shim.OpAdd, a, b) }
func Sub(a, b *Tensor) *Tensor     { return binaryOp("sub", shim.OpSub, a, b) }
func Mul(a, b *Tensor) *Tensor     { return binaryOp("mul", shim.OpMul, a, b) }
func Div(a, b *Tensor) *Tensor     { return binaryOp("div", shim.OpDiv, a, b) }
func Maximum(a, b *Tensor) *Tensor { return binaryOp("maximum", shim.OpMaximum, a, b) }
func Minimum(a, b *Tensor) *Tensor { return binaryOp("minimum", shim.OpMinimum, a, b) }

// PowTensor is a^b elementwise.
func PowTensor(a, b *Tensor) *Tensor { return binaryOp("pow", shim.OpPow, a, b) }

// MatMul is PyTorch's matmul: matrix product with batch broadcasting.
func MatMul(a, b *Tensor) *Tensor { return binaryOp("matmul", shim.OpMatMul, a, b) }

// AddScalar is x + s.
func AddScalar(x *Tensor, s float64) *Tensor {
	return scalarOp("add scalar", shim.OpAddScalar, x, s, 0)
}

// MulScalar is x · s.
func MulScalar(x *Tensor, s float64) *Tensor {
	return scalarOp("mul scalar", shim.OpMulScalar, x, s, 0)
}

// SubFrom is s − x; with ReLU it makes the hinge loss: ReLU(SubFrom(1, x)).
func SubFrom(s float64, x *Tensor) *Tensor { return scalarOp("sub from", shim.OpRSubScalar, x, s, 0) }

// Pow is x^p.
func Pow(x *Tensor, p float64) *Tensor { return scalarOp("pow", shim.OpPowScalar, x, p, 0) }

// Clamp limits x to [lo, hi].
func Clamp(x *Tensor, lo, hi float64) *Tensor {
	if lo > hi {
		return errTensor("clamp", fmt.Errorf("lower bound %v above upper bound %v", lo, hi))
	}
	return scalarOp("clamp", shim.OpClamp, x, lo, hi)
}

func Sqrt(x *Tensor) *Tensor   { return unary("sqrt", shim.OpSqrt, x) }
func Rsqrt(x *Tensor) *Tensor  { return unary("rsqrt", shim.OpRsqrt, x) }
func Exp(x *Tensor) *Tensor    { return unary("exp", shim.OpExp, x) }
func Log(x *Tensor) *Tensor    { return unary("log", shim.OpLog, x) }
func Abs(x *Tensor) *Tensor    { return unary("abs", shim.OpAbs, x) }
func Neg(x *Tensor) *Tensor    { return unary("neg", shim.OpNeg, x) }
func Square(x *Tensor) *Tensor { return unary("square", shim.OpSquare, x) }
func Sin(x *Tensor) *Tensor    { return unary("sin", shim.OpSin, x) }
func Cos(x *Tensor) *Tensor    { return unary("cos", shim.OpCos, x) }

// Detach is x cut from the autograd graph (same data, no gradient).
func Detach(x *Tensor) *Tensor { return unary("detach", shim.OpDetach, x) }

// Contiguous is x laid out densely in row-major order.
func Contiguous(x *Tensor) *Tensor { return unary("contiguous", shim.OpContiguous, x) }

// Clone is a copy of x that autograd differentiates through.
func Clone(x *Tensor) *Tensor { return unary("clone", shim.OpClone, x) }

// ChannelsLast is a 4-D x stored NHWC (same shape and values); oneDNN
// convolutions can skip layout conversions on it.
func ChannelsLast(x *Tensor) *Tensor { return unary("channels last", shim.OpChannelsLast, x) }

// Reductions. Sum, Mean and friends reduce everything to a scalar; the
// Dims forms reduce the listed dimensions (negative counts from the end).

func Sum(x *Tensor) *Tensor  { return reduce("sum", shim.OpSum, x, nil, false, false) }
func Mean(x *Tensor) *Tensor { return reduce("mean", shim.OpMean, x, nil, false, false) }
func Max(x *Tensor) *Tensor  { return reduce("max", shim.OpAmax, x, nil, false, false) }
func Min(x *Tensor) *Tensor  { return reduce("min", shim.OpAmin, x, nil, false, false) }

func SumDims(x *Tensor, keepDim bool, dims ...int64) *Tensor {
	return reduceDims("sum", shim.OpSum, x, dims, keepDim)
}

func MeanDims(x *Tensor, keepDim bool, dims ...int64) *Tensor {
	return reduceDims("mean", shim.OpMean, x, dims, keepDim)
}

func MaxDims(x *Tensor, keepDim bool, dims ...int64) *Tensor {
	return reduceDims("max", shim.OpAmax, x, dims, keepDim)
}

func MinDims(x *Tensor, keepDim bool, dims ...int64) *Tensor {
	return reduceDims("min", shim.OpAmin, x, dims, keepDim)
}

// StdDims is the standard deviation over dims with Bessel's correction
// (n−1), PyTorch's default — AdaIN's per-channel statistic.
func StdDims(x *Tensor, keepDim bool, dims ...int64) *Tensor {
	return reduceDims("std", shim.OpStd, x, dims, keepDim)
}

// VarDims is the variance over dims with Bessel's correction (n−1).
func VarDims(x *Tensor, keepDim bool, dims ...int64) *Tensor {
	return reduceDims("var", shim.OpVar, x, dims, keepDim)
}

// reduceDims keeps "no dims" from meaning "all dims" by accident (the shim
// reduces everything for an empty list; the Dims forms must not).
func reduceDims(op string, code int, x *Tensor, dims []int64, keepDim bool) *Tensor {
	if len(dims) == 0 {
		return errTensor(op, fmt.Errorf("no dimensions given (the whole-tensor form reduces all)"))
	}
	return reduce(op, code, x, dims, keepDim, true)
}

// Shapes and views.

// Reshape is x with a new shape (one size may be -1); a view when possible.
func Reshape(x *Tensor, shape ...int64) *Tensor {
	return shapeOp("reshape", shim.OpReshape, x, shape...)
}

// View is x with a new shape sharing its data; x must be viewable so.
func View(x *Tensor, shape ...int64) *Tensor { return shapeOp("view", shim.OpView, x, shape...) }

// Permute reorders dimensions.
func Permute(x *Tensor, dims ...int64) *Tensor { return shapeOp("permute", shim.OpPermute, x, dims...) }

// Expand broadcasts size-1 dimensions to shape without copying (-1 keeps).
func Expand(x *Tensor, shape ...int64) *Tensor { return shapeOp("expand", shim.OpExpand, x, shape...) }

// Repeat tiles x repeats[i] times along dimension i.
func Repeat(x *Tensor, repeats ...int64) *Tensor {
	return shapeOp("repeat", shim.OpRepeat, x, repeats...)
}

// Flatten merges dimensions start…end (inclusive) into one.
func Flatten(x *Tensor, start, end int64) *Tensor {
	return shapeOp("flatten", shim.OpFlatten, x, start, end)
}

func Squeeze(x *Tensor, dim int64) *Tensor   { return shapeOp("squeeze", shim.OpSqueeze, x, dim) }
func Unsqueeze(x *Tensor, dim int64) *Tensor { return shapeOp("unsqueeze", shim.OpUnsqueeze, x, dim) }

// Transpose swaps two dimensions.
func Transpose(x *Tensor, dim0, dim1 int64) *Tensor {
	return shapeOp("transpose", shim.OpTranspose, x, dim0, dim1)
}

// Slice is x[start:end:step] along dim, as a view.
func Slice(x *Tensor, dim, start, end, step int64) *Tensor {
	if step < 1 {
		return errTensor("slice", fmt.Errorf("step %d must be positive", step))
	}
	return shapeOp("slice", shim.OpSlice, x, dim, start, end, step)
}

// Narrow is length elements of dim from start, as a view.
func Narrow(x *Tensor, dim, start, length int64) *Tensor {
	return shapeOp("narrow", shim.OpNarrow, x, dim, start, length)
}

// Select is x[…, index, …] along dim, which removes that dimension.
func Select(x *Tensor, dim, index int64) *Tensor {
	return shapeOp("select", shim.OpSelect, x, dim, index)
}

// Index picks the entries of dim listed in the int64 tensor index.
func Index(x *Tensor, dim int64, index *Tensor) *Tensor {
	if err := check("index", x, index); err != nil {
		return &Tensor{err: err}
	}
	h, err := shim.IndexSelect(x.h, dim, index.h)
	runtime.KeepAlive(x)
	runtime.KeepAlive(index)
	return newTensor("index", h, err)
}

// PixelShuffle rearranges (N, C·r², H, W) into (N, C, H·r, W·r).
func PixelShuffle(x *Tensor, r int64) *Tensor {
	return shapeOp("pixel shuffle", shim.OpPixelShuffle, x, r)
}

// PixelUnshuffle is PixelShuffle's inverse.
func PixelUnshuffle(x *Tensor, r int64) *Tensor {
	return shapeOp("pixel unshuffle", shim.OpPixelUnshuffle, x, r)
}

func join(op string, ts []*Tensor, dim int64, stack bool) *Tensor {
	if len(ts) == 0 {
		return errTensor(op, fmt.Errorf("no tensors"))
	}
	if err := check(op, ts...); err != nil {
		return &Tensor{err: err}
	}
	hs := make([]shim.Handle, len(ts))
	for i, t := range ts {
		hs[i] = t.h
	}
	h, err := shim.Cat(hs, dim, stack)
	runtime.KeepAlive(ts)
	return newTensor(op, h, err)
}

// Cat joins tensors along an existing dimension.
func Cat(ts []*Tensor, dim int64) *Tensor { return join("cat", ts, dim, false) }

// Stack joins same-shaped tensors along a new dimension.
func Stack(ts []*Tensor, dim int64) *Tensor { return join("stack", ts, dim, true) }
