// Package torch is facesynth's neural engine: tensors, autograd, layers'
// functional forms, named parameters, Adam/AdamW and safetensors
// checkpoints, over libtorch through a small C++ shim (package shim).
//
// Errors are sticky, so that model code reads like the paper's figure:
// an op whose input carries an error returns a tensor carrying the same
// error without running, and the error surfaces where the caller asks for a
// result (Backward, Float32s, Item, Err). Nothing here panics on bad input.
//
// Memory is freed deterministically, not by the GC: Close a tensor, or
// create it inside a Scope and let the Scope free everything at once. A GC
// cleanup frees forgotten tensors only as a leak safety net.
//
// Grad mode is per OS thread in libtorch; NoGrad locks the calling goroutine
// to its thread for the duration. For speed, drive a training loop from one
// goroutine locked to its thread (runtime.LockOSThread): every thread that
// calls libtorch gets its own OpenMP worker pool.
package torch

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	"github.com/facesynth/facesynth/internal/torch/shim"
)

// ErrUnavailable is the error of every call in a build without cgo.
var ErrUnavailable = shim.ErrUnavailable

// Available reports whether this build has libtorch (it needs cgo).
const Available = shim.Available

// DType is a tensor's element type.
type DType int

// Element types. Float32 is the only one models compute in; Int64 holds
// indices.
const (
	Float32  DType = shim.DTypeF32
	Float64  DType = shim.DTypeF64
	Int64    DType = shim.DTypeI64
	Int32    DType = shim.DTypeI32
	Uint8    DType = shim.DTypeU8
	Bool     DType = shim.DTypeBool
	Float16  DType = shim.DTypeF16
	BFloat16 DType = shim.DTypeBF16
)

var dtypeNames = map[DType]string{Float32: "float32", Float64: "float64", Int64: "int64", Int32: "int32",
	Uint8: "uint8", Bool: "bool", Float16: "float16", BFloat16: "bfloat16"}

func (d DType) String() string {
	if s, ok := dtypeNames[d]; ok {
		return s
	}
	return fmt.Sprintf("dtype(%d)", int(d))
}

// DeviceType is the kind of device a tensor lives on.
type DeviceType int

const (
	DeviceCPU  DeviceType = shim.DevCPU
	DeviceCUDA DeviceType = shim.DevCUDA
)

// Device is where a tensor lives: the CPU or one CUDA GPU.
type Device struct {
	Type  DeviceType
	Index int
}

// CPU is the host device.
var CPU = Device{Type: DeviceCPU}

// CUDA is GPU number index.
func CUDA(index int) Device { return Device{Type: DeviceCUDA, Index: index} }

func (d Device) String() string {
	if d.Type == DeviceCUDA {
		return fmt.Sprintf("cuda:%d", d.Index)
	}
	return "cpu"
}

// CUDAAvailable reports whether libtorch was built with CUDA and sees a GPU.
func CUDAAvailable() bool { return shim.CUDADeviceCount() > 0 }

// CUDADeviceCount is the number of GPUs libtorch sees.
func CUDADeviceCount() int { return shim.CUDADeviceCount() }

// Tensor is an n-dimensional array in libtorch, possibly carrying an error
// instead (see the package comment). The zero value is not usable; tensors
// come from the constructors and ops of this package.
type Tensor struct {
	h     shim.Handle
	err   error
	scope *Scope // guarded by scopeMu
}

// finalize frees a tensor the program dropped without Close. It is only a
// leak safety net: the GC does not see libtorch's memory, so it may run
// late or never.
func finalize(t *Tensor) {
	if t.h != nil {
		shim.Free(t.h)
		t.h = nil
	}
}

// newTensor wraps a handle returned by the shim, recording it in the
// current scope, or turns the shim's error into an error tensor.
func newTensor(op string, h shim.Handle, err error) *Tensor {
	t := newUnscoped(op, h, err)
	if t.h != nil {
		register(t)
	}
	return t
}

// newUnscoped is newTensor for tensors with an owner of their own
// (parameters, optimiser state) that a scope must not free.
func newUnscoped(op string, h shim.Handle, err error) *Tensor {
	if err != nil {
		return errTensor(op, err)
	}
	if h == nil {
		return errTensor(op, errors.New("libtorch returned no tensor"))
	}
	t := &Tensor{h: h}
	runtime.SetFinalizer(t, finalize)
	return t
}

// Errorf is a tensor carrying an error, for model code that validates its
// own inputs: ops pass it on like any other failure.
func Errorf(format string, args ...any) *Tensor { return &Tensor{err: fmt.Errorf(format, args...)} }

func errTensor(op string, err error) *Tensor {
	return &Tensor{err: fmt.Errorf("torch: %s: %w", op, err)}
}

// check returns the first error among inputs: an input's own error is
// passed on unchanged so the caller sees the op that first failed.
func check(op string, ts ...*Tensor) error {
	for _, t := range ts {
		if t == nil {
			return fmt.Errorf("torch: %s: nil tensor", op)
		}
		if t.err != nil {
			return t.err
		}
		if t.h == nil {
			return fmt.Errorf("torch: %s: tensor used after Close", op)
		}
	}
	return nil
}

// handleOrNil is an optional input: nil stays nil (e.g. "no bias").
func handleOrNil(t *Tensor) shim.Handle {
	if t == nil {
		return nil
	}
	return t.h
}

// Err is the error the tensor carries, or nil.
func (t *Tensor) Err() error {
	if t == nil {
		return errors.New("torch: nil tensor")
	}
	if t.err == nil && t.h == nil {
		return errors.New("torch: tensor used after Close")
	}
	return t.err
}

// Close frees the tensor's libtorch reference now. The storage itself is
// freed when no other tensor (view, gradient, autograd graph) refers to it.
// Close is idempotent; a closed tensor gives an error when used.
func (t *Tensor) Close() {
	if t == nil || t.h == nil {
		return
	}
	runtime.SetFinalizer(t, nil)
	shim.Free(t.h)
	t.h = nil
}

// info is Shape, DType, Device and RequiresGrad in one call.
type info struct {
	shape        []int64
	dtype        DType
	device       Device
	requiresGrad bool
}

func (t *Tensor) info(op string) (info, error) {
	if err := check(op, t); err != nil {
		return info{}, err
	}
	shape, dt, dv, di, rg, err := shim.Info(t.h)
	runtime.KeepAlive(t)
	if err != nil {
		return info{}, fmt.Errorf("torch: %s: %w", op, err)
	}
	return info{shape, DType(dt), Device{DeviceType(dv), di}, rg}, nil
}

// Shape is the tensor's size per dimension; nil when the tensor carries an
// error.
func (t *Tensor) Shape() []int64 {
	i, err := t.info("shape")
	if err != nil {
		return nil
	}
	return i.shape
}

// Dim is the number of dimensions (0 for an error tensor).
func (t *Tensor) Dim() int { return len(t.Shape()) }

// Size is the size of dimension dim (negative counts from the end), or 0
// when there is no such dimension.
func (t *Tensor) Size(dim int) int64 {
	s := t.Shape()
	if dim < 0 {
		dim += len(s)
	}
	if dim < 0 || dim >= len(s) {
		return 0
	}
	return s[dim]
}

// Numel is the number of elements.
func (t *Tensor) Numel() int64 { return numel(t.Shape()) }

func numel(shape []int64) int64 {
	n := int64(1)
	for _, s := range shape {
		n *= s
	}
	return n
}

// DType is the element type (Float32 for an error tensor).
func (t *Tensor) DType() DType {
	i, _ := t.info("dtype")
	return i.dtype
}

// Device is where the tensor lives (CPU for an error tensor).
func (t *Tensor) Device() Device {
	i, _ := t.info("device")
	return i.device
}

func (t *Tensor) String() string {
	i, err := t.info("string")
	if err != nil {
		return "Tensor(" + err.Error() + ")"
	}
	dims := make([]string, len(i.shape))
	for k, s := range i.shape {
		dims[k] = fmt.Sprint(s)
	}
	return fmt.Sprintf("Tensor[%s %s %s]", strings.Join(dims, "x"), i.dtype, i.device)
}

// Float32s copies the elements, converted to float32, into a new slice in
// row-major order (from any device, any memory layout).
func (t *Tensor) Float32s() ([]float32, error) {
	i, err := t.info("float32s")
	if err != nil {
		return nil, err
	}
	out := make([]float32, numel(i.shape))
	err = shim.CopyOut(t.h, unsafe.Pointer(unsafe.SliceData(out)), shim.DTypeF32, int64(len(out)))
	runtime.KeepAlive(t)
	if err != nil {
		return nil, fmt.Errorf("torch: float32s: %w", err)
	}
	return out, nil
}

// Int64s copies the elements, converted to int64, into a new slice.
func (t *Tensor) Int64s() ([]int64, error) {
	i, err := t.info("int64s")
	if err != nil {
		return nil, err
	}
	out := make([]int64, numel(i.shape))
	err = shim.CopyOut(t.h, unsafe.Pointer(unsafe.SliceData(out)), shim.DTypeI64, int64(len(out)))
	runtime.KeepAlive(t)
	if err != nil {
		return nil, fmt.Errorf("torch: int64s: %w", err)
	}
	return out, nil
}

// Item is the value of a one-element tensor.
func (t *Tensor) Item() (float32, error) {
	v, err := t.Float32s()
	if err != nil {
		return 0, err
	}
	if len(v) != 1 {
		return 0, fmt.Errorf("torch: item: tensor has %d elements, want 1", len(v))
	}
	return v[0], nil
}

// To returns the tensor on device dev (the same data if it is there already).
func (t *Tensor) To(dev Device) *Tensor {
	i, err := t.info("to")
	if err != nil {
		return &Tensor{err: err}
	}
	return t.convert("to", dev, i.dtype)
}

// ToDType returns the tensor converted to element type d.
func (t *Tensor) ToDType(d DType) *Tensor {
	i, err := t.info("to dtype")
	if err != nil {
		return &Tensor{err: err}
	}
	return t.convert("to dtype", i.device, d)
}

func (t *Tensor) convert(op string, dev Device, d DType) *Tensor {
	h, err := shim.To(t.h, int(dev.Type), dev.Index, int(d))
	runtime.KeepAlive(t)
	return newTensor(op, h, err)
}

// fromData is FromFloat32 and FromInt64.
func fromData(op string, p unsafe.Pointer, n int, dtype int, shape []int64) *Tensor {
	if len(shape) == 0 {
		shape = []int64{int64(n)}
	}
	for _, s := range shape {
		if s < 0 {
			return errTensor(op, fmt.Errorf("negative size in shape %v", shape))
		}
	}
	if numel(shape) != int64(n) {
		return errTensor(op, fmt.Errorf("%d values do not fill shape %v", n, shape))
	}
	h, err := shim.FromData(p, dtype, shape)
	return newTensor(op, h, err)
}

// FromFloat32 copies data into a new CPU float32 tensor of the given shape
// (one dimension of len(data) when no shape is given).
func FromFloat32(data []float32, shape ...int64) *Tensor {
	return fromData("from float32", unsafe.Pointer(unsafe.SliceData(data)), len(data), shim.DTypeF32, shape)
}

// FromInt64 copies data into a new CPU int64 tensor (e.g. indices).
func FromInt64(data []int64, shape ...int64) *Tensor {
	return fromData("from int64", unsafe.Pointer(unsafe.SliceData(data)), len(data), shim.DTypeI64, shape)
}

// Scalar is a zero-dimensional float32 tensor.
func Scalar(v float32) *Tensor {
	return fromData("scalar", unsafe.Pointer(&v), 1, shim.DTypeF32, []int64{})
}

func (d Device) fill(op string, kind int, value float64, dtype DType, shape []int64) *Tensor {
	for _, s := range shape {
		if s < 0 {
			return errTensor(op, fmt.Errorf("negative size in shape %v", shape))
		}
	}
	h, err := shim.Fill(kind, shape, value, int(dtype), int(d.Type), d.Index)
	return newTensor(op, h, err)
}

// Zeros is a float32 tensor of zeros on d.
func (d Device) Zeros(shape ...int64) *Tensor {
	return d.fill("zeros", shim.FillZeros, 0, Float32, shape)
}

// Ones is a float32 tensor of ones on d.
func (d Device) Ones(shape ...int64) *Tensor { return d.fill("ones", shim.FillOnes, 0, Float32, shape) }

// Full is a float32 tensor filled with v on d.
func (d Device) Full(v float64, shape ...int64) *Tensor {
	return d.fill("full", shim.FillFull, v, Float32, shape)
}

// Rand is uniform [0, 1) float32 noise on d, from the seeded generator.
func (d Device) Rand(shape ...int64) *Tensor { return d.fill("rand", shim.FillRand, 0, Float32, shape) }

// Randn is standard normal float32 noise on d, from the seeded generator.
func (d Device) Randn(shape ...int64) *Tensor {
	return d.fill("randn", shim.FillRandn, 0, Float32, shape)
}

// Zeros is a CPU float32 tensor of zeros.
func Zeros(shape ...int64) *Tensor { return CPU.Zeros(shape...) }

// Ones is a CPU float32 tensor of ones.
func Ones(shape ...int64) *Tensor { return CPU.Ones(shape...) }

// Full is a CPU float32 tensor filled with v.
func Full(v float64, shape ...int64) *Tensor { return CPU.Full(v, shape...) }

// Rand is CPU uniform [0, 1) float32 noise.
func Rand(shape ...int64) *Tensor { return CPU.Rand(shape...) }

// Randn is CPU standard normal float32 noise.
func Randn(shape ...int64) *Tensor { return CPU.Randn(shape...) }

// Arange is the CPU int64 tensor 0, 1, …, n-1.
func Arange(n int64) *Tensor {
	if n < 0 {
		return errTensor("arange", fmt.Errorf("negative length %d", n))
	}
	h, err := shim.Fill(shim.FillArange, nil, float64(n), shim.DTypeI64, shim.DevCPU, 0)
	return newTensor("arange", h, err)
}

func fillLike(op string, kind int, like *Tensor, v float64) *Tensor {
	if err := check(op, like); err != nil {
		return &Tensor{err: err}
	}
	h, err := shim.FillLike(kind, like.h, v)
	runtime.KeepAlive(like)
	return newTensor(op, h, err)
}

// ZerosLike is zeros with like's shape, dtype and device.
func ZerosLike(like *Tensor) *Tensor { return fillLike("zeros like", shim.FillZeros, like, 0) }

// OnesLike is ones with like's shape, dtype and device.
func OnesLike(like *Tensor) *Tensor { return fillLike("ones like", shim.FillOnes, like, 0) }

// FullLike is v with like's shape, dtype and device.
func FullLike(like *Tensor, v float64) *Tensor { return fillLike("full like", shim.FillFull, like, v) }

// RandLike is uniform [0, 1) noise with like's shape, dtype and device.
func RandLike(like *Tensor) *Tensor { return fillLike("rand like", shim.FillRand, like, 0) }

// RandnLike is standard normal noise with like's shape, dtype and device.
func RandnLike(like *Tensor) *Tensor { return fillLike("randn like", shim.FillRandn, like, 0) }
