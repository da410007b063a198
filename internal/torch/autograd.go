package torch

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/facesynth/facesynth/internal/torch/shim"
)

// SetRequiresGrad marks a leaf tensor as one whose gradient Backward
// computes (parameters are marked by Params already).
func (t *Tensor) SetRequiresGrad(on bool) error {
	if err := check("set requires grad", t); err != nil {
		return err
	}
	err := shim.SetRequiresGrad(t.h, on)
	runtime.KeepAlive(t)
	if err != nil {
		return fmt.Errorf("torch: set requires grad: %w", err)
	}
	return nil
}

// RequiresGrad reports whether autograd tracks the tensor.
func (t *Tensor) RequiresGrad() bool {
	i, err := t.info("requires grad")
	return err == nil && i.requiresGrad
}

// Backward computes the gradient of the one-element tensor t with respect
// to every leaf that requires a gradient, accumulating into their Grad.
// It is also where errors of the forward pass surface.
func (t *Tensor) Backward() error {
	if err := check("backward", t); err != nil {
		return err
	}
	err := shim.Backward(t.h, nil, false)
	runtime.KeepAlive(t)
	if err != nil {
		return fmt.Errorf("torch: backward: %w", err)
	}
	return nil
}

// BackwardWith backpropagates the gradient grad (shaped like t) from a
// non-scalar t, keeping the graph for another backward when retain is true.
func (t *Tensor) BackwardWith(grad *Tensor, retain bool) error {
	if err := check("backward", t, grad); err != nil {
		return err
	}
	err := shim.Backward(t.h, grad.h, retain)
	runtime.KeepAlive(t)
	runtime.KeepAlive(grad)
	if err != nil {
		return fmt.Errorf("torch: backward: %w", err)
	}
	return nil
}

// ErrNoGrad is the error of Grad for a tensor that has no gradient (yet).
var ErrNoGrad = errors.New("torch: grad: tensor has no gradient")

// Grad is the accumulated gradient of a leaf tensor, sharing its storage;
// an error tensor wrapping ErrNoGrad when there is none.
func (t *Tensor) Grad() *Tensor {
	if err := check("grad", t); err != nil {
		return &Tensor{err: err}
	}
	h, err := shim.Grad(t.h)
	runtime.KeepAlive(t)
	if err == nil && h == nil {
		return &Tensor{err: ErrNoGrad}
	}
	return newTensor("grad", h, err)
}

// ClearGrad drops the tensor's gradient (PyTorch's zero_grad with
// set_to_none), so the next Backward writes a fresh one.
func (t *Tensor) ClearGrad() error {
	if err := check("clear grad", t); err != nil {
		return err
	}
	err := shim.ClearGrad(t.h)
	runtime.KeepAlive(t)
	if err != nil {
		return fmt.Errorf("torch: clear grad: %w", err)
	}
	return nil
}

// CopyFrom overwrites t's values with src's (same shape; any device or
// dtype), outside autograd: how checkpoints are loaded into parameters.
func (t *Tensor) CopyFrom(src *Tensor) error {
	if err := check("copy from", t, src); err != nil {
		return err
	}
	err := shim.CopyInto(t.h, src.h)
	runtime.KeepAlive(t)
	runtime.KeepAlive(src)
	if err != nil {
		return fmt.Errorf("torch: copy from: %w", err)
	}
	return nil
}

// inPlace runs one of the shim's in-place initialisers.
func (t *Tensor) inPlace(op string, f func(shim.Handle) error) error {
	if err := check(op, t); err != nil {
		return err
	}
	err := f(t.h)
	runtime.KeepAlive(t)
	if err != nil {
		return fmt.Errorf("torch: %s: %w", op, err)
	}
	return nil
}

// Uniform fills t in place with uniform noise in [lo, hi) from the seeded
// generator, outside autograd.
func (t *Tensor) Uniform(lo, hi float64) error {
	return t.inPlace("uniform", func(h shim.Handle) error { return shim.Uniform(h, lo, hi) })
}

// Normal fills t in place with normal noise, outside autograd.
func (t *Tensor) Normal(mean, std float64) error {
	return t.inPlace("normal", func(h shim.Handle) error { return shim.Normal(h, mean, std) })
}

// Fill sets every element of t to v in place, outside autograd.
func (t *Tensor) Fill(v float64) error {
	return t.inPlace("fill", func(h shim.Handle) error { return shim.FillValue(h, v) })
}
