// Package shim is the only cgo code of facesynth: thin Go functions over a
// C API (shim.h) that wraps libtorch's C++ API (shim.cpp). Handles are
// opaque pointers owned by the caller; package torch builds the real API on
// top. Without cgo every function returns ErrUnavailable (nocgo.go).
//
// It is a package of its own so that editing package torch's Go code does
// not recompile the C++ (the Go build cache keys C++ objects by package).
package shim

import (
	"errors"
	"unsafe"
)

// ErrUnavailable is returned by every call of a build without libtorch.
var ErrUnavailable = errors.New("torch: libtorch is not available in this build (built with CGO_ENABLED=0)")

// Handle is one owned at::Tensor reference; nil means "no tensor".
type Handle = unsafe.Pointer

// Codes shared with shim.h; cgo.go asserts at compile time that they match.
const (
	DTypeF32, DTypeF64, DTypeI64, DTypeI32, DTypeU8, DTypeBool, DTypeF16, DTypeBF16 = 0, 1, 2, 3, 4, 5, 6, 7

	DevCPU, DevCUDA = 0, 1

	FillZeros, FillOnes, FillFull, FillRand, FillRandn, FillArange = 0, 1, 2, 3, 4, 5
)

// Unary ops.
const (
	OpReLU = iota
	OpSigmoid
	OpTanh
	OpSoftplus
	OpSqrt
	OpRsqrt
	OpExp
	OpLog
	OpAbs
	OpNeg
	OpSquare
	OpSin
	OpCos
	OpGELU
	OpSiLU
	OpDetach
	OpContiguous
	OpClone
	OpChannelsLast
)

// Ops of one tensor and up to two numbers.
const (
	OpLeakyReLU = iota
	OpAddScalar
	OpMulScalar
	OpRSubScalar
	OpPowScalar
	OpClamp
	OpDropout
	OpSoftmax
	OpLogSoftmax
)

// Binary ops.
const (
	OpAdd = iota
	OpSub
	OpMul
	OpDiv
	OpMatMul
	OpPow
	OpMaximum
	OpMinimum
)

// Reductions.
const (
	OpSum = iota
	OpMean
	OpStd
	OpVar
	OpAmax
	OpAmin
)

// Shape ops.
const (
	OpReshape = iota
	OpView
	OpPermute
	OpExpand
	OpRepeat
	OpFlatten
	OpSqueeze
	OpUnsqueeze
	OpTranspose
	OpSlice
	OpNarrow
	OpSelect
	OpPixelShuffle
	OpPixelUnshuffle
)

// Losses, reductions, pools, upsampling modes.
const (
	LossL1, LossMSE, LossBCEWithLogits = 0, 1, 2
	ReduceNone, ReduceMean, ReduceSum  = 0, 1, 2
	PoolMax, PoolAvg                   = 0, 1
	UpsampleNearest, UpsampleBilinear  = 0, 1
)
