//go:build !cgo

package shim

import "unsafe"

// Available reports whether this build has libtorch.
const Available = false

func SingleThreadBLAS() bool                 { return false }
func TuneMalloc() error                      { return ErrUnavailable }
func SetThreads(int) error                   { return ErrUnavailable }
func Threads() int                           { return 0 }
func ManualSeed(uint64)                      {}
func CUDADeviceCount() int                   { return 0 }
func SetGradEnabled(bool)                    {}
func GradEnabled() bool                      { return false }
func Free(Handle)                            {}
func SetRequiresGrad(Handle, bool) error     { return ErrUnavailable }
func CopyInto(Handle, Handle) error          { return ErrUnavailable }
func Uniform(Handle, float64, float64) error { return ErrUnavailable }
func Normal(Handle, float64, float64) error  { return ErrUnavailable }
func FillValue(Handle, float64) error        { return ErrUnavailable }
func Backward(Handle, Handle, bool) error    { return ErrUnavailable }
func ClearGrad(Handle) error                 { return ErrUnavailable }

func FromData(unsafe.Pointer, int, []int64) (Handle, error)              { return nil, ErrUnavailable }
func Fill(int, []int64, float64, int, int, int) (Handle, error)          { return nil, ErrUnavailable }
func FillLike(int, Handle, float64) (Handle, error)                      { return nil, ErrUnavailable }
func CopyOut(Handle, unsafe.Pointer, int, int64) error                   { return ErrUnavailable }
func To(Handle, int, int, int) (Handle, error)                           { return nil, ErrUnavailable }
func Shallow(Handle) (Handle, error)                                     { return nil, ErrUnavailable }
func Grad(Handle) (Handle, error)                                        { return nil, ErrUnavailable }
func Unary(int, Handle) (Handle, error)                                  { return nil, ErrUnavailable }
func Scalar(int, Handle, float64, float64) (Handle, error)               { return nil, ErrUnavailable }
func Binary(int, Handle, Handle) (Handle, error)                         { return nil, ErrUnavailable }
func Reduce(int, Handle, []int64, bool, bool) (Handle, error)            { return nil, ErrUnavailable }
func ShapeOp(int, Handle, []int64) (Handle, error)                       { return nil, ErrUnavailable }
func IndexSelect(Handle, int64, Handle) (Handle, error)                  { return nil, ErrUnavailable }
func Cat([]Handle, int64, bool) (Handle, error)                          { return nil, ErrUnavailable }
func GridSample(Handle, Handle, int, int, bool) (Handle, error)          { return nil, ErrUnavailable }
func Linear(Handle, Handle, Handle) (Handle, error)                      { return nil, ErrUnavailable }
func AdaptiveAvgPool2d(Handle, int64, int64) (Handle, error)             { return nil, ErrUnavailable }
func InstanceNorm(Handle, Handle, Handle, float64) (Handle, error)       { return nil, ErrUnavailable }
func GroupNorm(Handle, int64, Handle, Handle, float64) (Handle, error)   { return nil, ErrUnavailable }
func LayerNorm(Handle, []int64, Handle, Handle, float64) (Handle, error) { return nil, ErrUnavailable }
func Loss(int, Handle, Handle, int) (Handle, error)                      { return nil, ErrUnavailable }

func Info(Handle) ([]int64, int, int, int, bool, error) { return nil, 0, 0, 0, false, ErrUnavailable }

func Conv(Handle, Handle, Handle, []int64, []int64, []int64, []int64, bool, int64) (Handle, error) {
	return nil, ErrUnavailable
}

func Pool2d(int, Handle, [2]int64, [2]int64, [2]int64, bool, bool) (Handle, error) {
	return nil, ErrUnavailable
}

func Upsample2d(int, Handle, int64, int64, float64, float64, bool) (Handle, error) {
	return nil, ErrUnavailable
}

func BatchNorm(Handle, Handle, Handle, Handle, Handle, bool, float64, float64) (Handle, error) {
	return nil, ErrUnavailable
}

func GRU(Handle, Handle, []Handle, bool, int64, float64, bool, bool) (Handle, Handle, error) {
	return nil, nil, ErrUnavailable
}

func AdamStep([]Handle, []Handle, []Handle, []int64, float64, float64, float64, float64, float64, bool) error {
	return ErrUnavailable
}
