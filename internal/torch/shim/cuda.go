//go:build cgo && torch_cuda

package shim

// With a CUDA libtorch nothing references libtorch_cuda's symbols directly:
// it registers the CUDA kernels from static constructors, so the linker's
// --as-needed would drop it and every CUDA op would fail at run time. Keep
// it linked explicitly.

// #cgo LDFLAGS: -Wl,--no-as-needed -ltorch_cuda -lc10_cuda -Wl,--as-needed
import "C"
