//go:build cgo

package shim

// Default paths are Debian's libtorch-dev. For another libtorch (e.g. a CUDA
// 2.x from pytorch.org) put its paths first through the environment; cgo
// places CGO_CXXFLAGS/CGO_LDFLAGS before these, so they win (see README.md).

/*
#cgo CXXFLAGS: -std=c++17 -O2 -fopenmp -I/usr/include/torch/csrc/api/include
#cgo LDFLAGS: -ltorch -ltorch_cpu -lc10 -fopenmp -ldl
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"errors"
	"unsafe"
)

// Compile-time proof that the Go codes equal the C enums: indexing a
// one-element array with a non-zero constant does not compile.
var _ = [...]int{
	[1]int{}[DTypeBF16-C.FS_BF16], [1]int{}[DevCUDA-C.FS_CUDA], [1]int{}[FillArange-C.FS_ARANGE],
	[1]int{}[OpChannelsLast-C.FS_CHANNELS_LAST], [1]int{}[OpDetach-C.FS_DETACH],
	[1]int{}[OpLogSoftmax-C.FS_LOG_SOFTMAX], [1]int{}[OpDropout-C.FS_DROPOUT],
	[1]int{}[OpMinimum-C.FS_MINIMUM], [1]int{}[OpMatMul-C.FS_MATMUL],
	[1]int{}[OpAmin-C.FS_AMIN], [1]int{}[OpStd-C.FS_STD],
	[1]int{}[OpPixelUnshuffle-C.FS_PIXEL_UNSHUFFLE], [1]int{}[OpSlice-C.FS_SLICE],
	[1]int{}[LossBCEWithLogits-C.FS_BCE_LOGITS_LOSS], [1]int{}[ReduceSum-C.FS_REDUCE_SUM],
	[1]int{}[PoolAvg-C.FS_AVG_POOL], [1]int{}[UpsampleBilinear-C.FS_BILINEAR],
}

// Available reports whether this build has libtorch.
const Available = true

func check(e C.fs_error) error {
	if e == nil {
		return nil
	}
	msg := C.GoString(e)
	C.fs_free_error(e)
	return errors.New(msg)
}

func h(p Handle) C.fs_tensor { return C.fs_tensor(p) }

func ints(v []int64) (*C.int64_t, C.int) {
	if len(v) == 0 {
		return nil, 0
	}
	return (*C.int64_t)(unsafe.Pointer(&v[0])), C.int(len(v))
}

func handles(v []Handle) (*C.fs_tensor, C.int) {
	if len(v) == 0 {
		return nil, 0
	}
	return (*C.fs_tensor)(unsafe.Pointer(&v[0])), C.int(len(v))
}

func b2i(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

func out(f func(*C.fs_tensor) C.fs_error) (Handle, error) {
	var o C.fs_tensor
	if err := check(f(&o)); err != nil {
		return nil, err
	}
	return Handle(o), nil
}

func TuneMalloc() error      { return check(C.fs_tune_malloc()) }
func SingleThreadBLAS() bool { return C.fs_single_thread_blas() != 0 }
func SetThreads(n int) error { return check(C.fs_set_threads(C.int(n))) }
func Threads() int           { return int(C.fs_get_threads()) }
func ManualSeed(seed uint64) { C.fs_manual_seed(C.uint64_t(seed)) }
func CUDADeviceCount() int   { return int(C.fs_cuda_device_count()) }
func SetGradEnabled(on bool) { C.fs_set_grad_enabled(b2i(on)) }
func GradEnabled() bool      { return C.fs_is_grad_enabled() != 0 }
func Free(t Handle)          { C.fs_free(h(t)) }
func SetRequiresGrad(t Handle, on bool) error {
	return check(C.fs_set_requires_grad(h(t), b2i(on)))
}

// FromData copies numel(shape) elements of dtype from data (which must not
// hold Go pointers) into a new CPU tensor.
func FromData(data unsafe.Pointer, dtype int, shape []int64) (Handle, error) {
	s, n := ints(shape)
	return out(func(o *C.fs_tensor) C.fs_error { return C.fs_from_data(data, C.int(dtype), s, n, o) })
}

func Fill(kind int, shape []int64, value float64, dtype, devType, devIndex int) (Handle, error) {
	s, n := ints(shape)
	return out(func(o *C.fs_tensor) C.fs_error {
		return C.fs_fill(C.int(kind), s, n, C.double(value), C.int(dtype), C.int(devType), C.int(devIndex), o)
	})
}

func FillLike(kind int, like Handle, value float64) (Handle, error) {
	return out(func(o *C.fs_tensor) C.fs_error { return C.fs_fill_like(C.int(kind), h(like), C.double(value), o) })
}

// CopyOut converts t to dtype on the CPU and copies its n elements to dst.
func CopyOut(t Handle, dst unsafe.Pointer, dtype int, n int64) error {
	return check(C.fs_copy_out(h(t), dst, C.int(dtype), C.int64_t(n)))
}

// Info describes a tensor.
func Info(t Handle) (shape []int64, dtype, devType, devIndex int, requiresGrad bool, err error) {
	var buf [16]C.int64_t
	var nd, dt, dv, di, rg C.int
	if err = check(C.fs_info(h(t), &buf[0], C.int(len(buf)), &nd, &dt, &dv, &di, &rg)); err != nil {
		return
	}
	if int(nd) > len(buf) {
		big := make([]int64, int(nd))
		if err = check(C.fs_info(h(t), (*C.int64_t)(unsafe.Pointer(&big[0])), nd, &nd, &dt, &dv, &di, &rg)); err != nil {
			return
		}
		return big, int(dt), int(dv), int(di), rg != 0, nil
	}
	shape = make([]int64, int(nd))
	for i := range shape {
		shape[i] = int64(buf[i])
	}
	return shape, int(dt), int(dv), int(di), rg != 0, nil
}

func To(t Handle, devType, devIndex, dtype int) (Handle, error) {
	return out(func(o *C.fs_tensor) C.fs_error {
		return C.fs_to(h(t), C.int(devType), C.int(devIndex), C.int(dtype), o)
	})
}

func Shallow(t Handle) (Handle, error) {
	return out(func(o *C.fs_tensor) C.fs_error { return C.fs_shallow(h(t), o) })
}

func CopyInto(dst, src Handle) error { return check(C.fs_copy_(h(dst), h(src))) }
func Uniform(t Handle, lo, hi float64) error {
	return check(C.fs_uniform_(h(t), C.double(lo), C.double(hi)))
}
func Normal(t Handle, mean, std float64) error {
	return check(C.fs_normal_(h(t), C.double(mean), C.double(std)))
}
func FillValue(t Handle, v float64) error { return check(C.fs_fill_(h(t), C.double(v))) }

func Backward(t, grad Handle, retainGraph bool) error {
	return check(C.fs_backward(h(t), h(grad), b2i(retainGraph)))
}

// Grad returns t's gradient, or nil when it has none.
func Grad(t Handle) (Handle, error) {
	return out(func(o *C.fs_tensor) C.fs_error { return C.fs_grad(h(t), o) })
}

func ClearGrad(t Handle) error { return check(C.fs_clear_grad(h(t))) }

func Unary(op int, x Handle) (Handle, error) {
	return out(func(o *C.fs_tensor) C.fs_error { return C.fs_unary(C.int(op), h(x), o) })
}

func Scalar(op int, x Handle, a, b float64) (Handle, error) {
	return out(func(o *C.fs_tensor) C.fs_error { return C.fs_scalar(C.int(op), h(x), C.double(a), C.double(b), o) })
}

func Binary(op int, a, b Handle) (Handle, error) {
	return out(func(o *C.fs_tensor) C.fs_error { return C.fs_binary(C.int(op), h(a), h(b), o) })
}

func Reduce(op int, x Handle, dims []int64, keepdim, unbiased bool) (Handle, error) {
	d, n := ints(dims)
	return out(func(o *C.fs_tensor) C.fs_error {
		return C.fs_reduce(C.int(op), h(x), d, n, b2i(keepdim), b2i(unbiased), o)
	})
}

func ShapeOp(op int, x Handle, args []int64) (Handle, error) {
	d, n := ints(args)
	return out(func(o *C.fs_tensor) C.fs_error { return C.fs_shape_op(C.int(op), h(x), d, n, o) })
}

func IndexSelect(x Handle, dim int64, index Handle) (Handle, error) {
	return out(func(o *C.fs_tensor) C.fs_error { return C.fs_index_select(h(x), C.int64_t(dim), h(index), o) })
}

func Cat(ts []Handle, dim int64, stack bool) (Handle, error) {
	p, n := handles(ts)
	return out(func(o *C.fs_tensor) C.fs_error { return C.fs_cat(p, n, C.int64_t(dim), b2i(stack), o) })
}

// GridSample samples x at grid's normalised (x, y) positions.
func GridSample(x, grid Handle, mode, paddingMode int, alignCorners bool) (Handle, error) {
	return out(func(o *C.fs_tensor) C.fs_error {
		return C.fs_grid_sample(h(x), h(grid), C.int(mode), C.int(paddingMode), b2i(alignCorners), o)
	})
}

// Conv is libtorch's general convolution; the four lists have one entry
// per spatial dimension.
func Conv(x, w, bias Handle, stride, padding, dilation, outputPadding []int64, transposed bool, groups int64) (Handle, error) {
	if len(padding) != len(stride) || len(dilation) != len(stride) || len(outputPadding) != len(stride) {
		return nil, errors.New("conv: stride, padding, dilation and output padding differ in length")
	}
	s, nd := ints(stride)
	p, _ := ints(padding)
	d, _ := ints(dilation)
	op, _ := ints(outputPadding)
	return out(func(o *C.fs_tensor) C.fs_error {
		return C.fs_conv(h(x), h(w), h(bias), s, p, d, op, nd, b2i(transposed), C.int64_t(groups), o)
	})
}

func Linear(x, w, bias Handle) (Handle, error) {
	return out(func(o *C.fs_tensor) C.fs_error { return C.fs_linear(h(x), h(w), h(bias), o) })
}

func Pool2d(op int, x Handle, kernel, stride, padding [2]int64, ceilMode, countIncludePad bool) (Handle, error) {
	return out(func(o *C.fs_tensor) C.fs_error {
		return C.fs_pool2d(C.int(op), h(x), (*C.int64_t)(unsafe.Pointer(&kernel[0])), (*C.int64_t)(unsafe.Pointer(&stride[0])),
			(*C.int64_t)(unsafe.Pointer(&padding[0])), b2i(ceilMode), b2i(countIncludePad), o)
	})
}

func AdaptiveAvgPool2d(x Handle, height, width int64) (Handle, error) {
	return out(func(o *C.fs_tensor) C.fs_error {
		return C.fs_adaptive_avg_pool2d(h(x), C.int64_t(height), C.int64_t(width), o)
	})
}

func Upsample2d(mode int, x Handle, height, width int64, scaleH, scaleW float64, alignCorners bool) (Handle, error) {
	return out(func(o *C.fs_tensor) C.fs_error {
		return C.fs_upsample2d(C.int(mode), h(x), C.int64_t(height), C.int64_t(width), C.double(scaleH),
			C.double(scaleW), b2i(alignCorners), o)
	})
}

func BatchNorm(x, w, b, runningMean, runningVar Handle, training bool, momentum, eps float64) (Handle, error) {
	return out(func(o *C.fs_tensor) C.fs_error {
		return C.fs_batch_norm(h(x), h(w), h(b), h(runningMean), h(runningVar), b2i(training), C.double(momentum),
			C.double(eps), o)
	})
}

func InstanceNorm(x, w, b Handle, eps float64) (Handle, error) {
	return out(func(o *C.fs_tensor) C.fs_error { return C.fs_instance_norm(h(x), h(w), h(b), C.double(eps), o) })
}

func GroupNorm(x Handle, groups int64, w, b Handle, eps float64) (Handle, error) {
	return out(func(o *C.fs_tensor) C.fs_error {
		return C.fs_group_norm(h(x), C.int64_t(groups), h(w), h(b), C.double(eps), o)
	})
}

func LayerNorm(x Handle, shape []int64, w, b Handle, eps float64) (Handle, error) {
	s, n := ints(shape)
	return out(func(o *C.fs_tensor) C.fs_error { return C.fs_layer_norm(h(x), s, n, h(w), h(b), C.double(eps), o) })
}

func Loss(op int, x, y Handle, reduction int) (Handle, error) {
	return out(func(o *C.fs_tensor) C.fs_error { return C.fs_loss(C.int(op), h(x), h(y), C.int(reduction), o) })
}

// GRU runs libtorch's multi-layer GRU; params are per layer w_ih, w_hh and,
// with biases, b_ih, b_hh.
func GRU(input, hx Handle, params []Handle, hasBiases bool, numLayers int64, dropout float64, train, batchFirst bool) (output, hy Handle, err error) {
	p, n := handles(params)
	var o, hn C.fs_tensor
	if err = check(C.fs_gru(h(input), h(hx), p, n, b2i(hasBiases), C.int64_t(numLayers), C.double(dropout),
		b2i(train), b2i(batchFirst), &o, &hn)); err != nil {
		return nil, nil, err
	}
	return Handle(o), Handle(hn), nil
}

// AdamStep updates params in place from their gradients; steps[i] counts
// parameter i's updates and is incremented for each parameter updated.
func AdamStep(params, expAvg, expAvgSq []Handle, steps []int64, lr, beta1, beta2, eps, weightDecay float64, decoupled bool) error {
	if len(expAvg) != len(params) || len(expAvgSq) != len(params) || len(steps) != len(params) {
		return errors.New("adam: parameter and state lists differ in length")
	}
	if len(params) == 0 {
		return nil
	}
	p, n := handles(params)
	m, _ := handles(expAvg)
	v, _ := handles(expAvgSq)
	return check(C.fs_adam_step(p, m, v, (*C.int64_t)(unsafe.Pointer(&steps[0])), n, C.double(lr), C.double(beta1),
		C.double(beta2), C.double(eps), C.double(weightDecay), b2i(decoupled)))
}
