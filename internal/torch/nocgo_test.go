//go:build !cgo

package torch

import (
	"errors"
	"path/filepath"
	"testing"
)

// Without cgo the package still builds, and every call reports
// ErrUnavailable instead of panicking.
func TestUnavailableWithoutCgo(t *testing.T) {
	if Available {
		t.Fatal("Available in a build without cgo")
	}
	x := Zeros(2, 3)
	if !errors.Is(x.Err(), ErrUnavailable) {
		t.Fatalf("Zeros: %v", x.Err())
	}
	if err := Sum(ReLU(x)).Backward(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Backward: %v", err)
	}
	if _, err := FromFloat32([]float32{1}).Float32s(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Float32s: %v", err)
	}
	p := NewParams()
	p.Uniform("w", 1, 2)
	if !errors.Is(p.Err(), ErrUnavailable) {
		t.Fatalf("Params: %v", p.Err())
	}
	if _, _, err := LoadSafetensors(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Fatal("LoadSafetensors of a missing file succeeded")
	}
	if CUDAAvailable() || Threads() != 0 {
		t.Fatal("devices or threads reported without libtorch")
	}
}
