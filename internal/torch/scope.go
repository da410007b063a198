package torch

import (
	"os"
	"runtime"
	"sync"

	"github.com/facesynth/facesynth/internal/torch/shim"
)

// A Scope frees, when closed, every tensor created while it was the
// innermost open scope, so that a training step does not Close each
// intermediate by hand:
//
//	for step := range steps {
//		s := torch.NewScope()
//		loss := torch.L1Loss(model.Forward(x), y)
//		err := loss.Backward()
//		…
//		s.Close()
//	}
//
// Scopes nest. They are process-wide, not per goroutine: tensors that
// another goroutine creates while a scope is open land in it too, so open
// scopes only in the goroutine that drives the model. Parameters and
// optimiser state are never recorded in a scope.
type Scope struct {
	parent  *Scope
	tensors []*Tensor
	closed  bool
}

var (
	scopeMu sync.Mutex
	current *Scope
)

// NewScope opens a scope nested in the current one.
func NewScope() *Scope {
	scopeMu.Lock()
	defer scopeMu.Unlock()
	s := &Scope{parent: current}
	current = s
	return s
}

// WithScope runs fn inside a new scope and closes it afterwards (also when
// fn panics). Use s.Keep for results that must outlive it.
func WithScope(fn func(s *Scope)) {
	s := NewScope()
	defer s.Close()
	fn(s)
}

// Scoped runs fn in a new scope and frees everything fn created except
// the tensor it returns, which moves to the enclosing scope: a composite
// op (SSIM, a model block) leaves no intermediates behind.
func Scoped(fn func() *Tensor) *Tensor {
	s := NewScope()
	defer s.Close()
	return s.Keep(fn())
}

func register(t *Tensor) {
	scopeMu.Lock()
	if s := current; s != nil {
		t.scope = s
		s.tensors = append(s.tensors, t)
	}
	scopeMu.Unlock()
}

// Keep moves tensors out of s into its parent scope, or out of all scopes
// when s is outermost (then the caller Closes them). Tensors of other
// scopes are left alone. Keep returns its first argument for chaining.
func (s *Scope) Keep(ts ...*Tensor) *Tensor {
	scopeMu.Lock()
	defer scopeMu.Unlock()
	for _, t := range ts {
		if t == nil || t.scope != s {
			continue
		}
		t.scope = s.parent
		if s.parent != nil {
			s.parent.tensors = append(s.parent.tensors, t)
		}
	}
	if len(ts) == 0 {
		return nil
	}
	return ts[0]
}

// Len is the number of tensors the scope will free.
func (s *Scope) Len() int {
	scopeMu.Lock()
	defer scopeMu.Unlock()
	n := 0
	for _, t := range s.tensors {
		if t.scope == s && t.h != nil {
			n++
		}
	}
	return n
}

// Close frees the scope's tensors and makes its parent current again.
// Closing twice is harmless. Closing an outer scope before an inner one
// also closes the inner one, since its tensors were created inside.
func (s *Scope) Close() {
	scopeMu.Lock()
	if s.closed {
		scopeMu.Unlock()
		return
	}
	var inner []*Scope
	for c := current; c != nil && c != s; c = c.parent {
		inner = append(inner, c)
	}
	if len(inner) > 0 && inner[len(inner)-1].parent != s {
		inner = nil // s is not on the current chain: nothing above it to close
	}
	scopeMu.Unlock()
	for _, c := range inner {
		c.Close()
	}

	scopeMu.Lock()
	s.closed = true
	if current == s {
		current = s.parent
	}
	var free []*Tensor
	for _, t := range s.tensors {
		if t.scope == s {
			t.scope = nil
			free = append(free, t)
		}
	}
	s.tensors = nil
	scopeMu.Unlock()
	for _, t := range free {
		t.Close()
	}
}

// NoGrad runs fn with gradient recording off, as torch.no_grad(). Grad
// mode is per OS thread in libtorch, so the goroutine stays locked to its
// thread while fn runs; ops that fn starts on other goroutines record
// gradients as usual.
func NoGrad(fn func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	was := shim.GradEnabled()
	shim.SetGradEnabled(false)
	defer shim.SetGradEnabled(was)
	fn()
}

// GradEnabled reports whether ops on this OS thread record gradients.
func GradEnabled() bool { return shim.GradEnabled() }

// SetThreads sets how many threads libtorch's ops use.
func SetThreads(n int) error { return shim.SetThreads(n) }

// Threads is the number of threads libtorch's ops use.
func Threads() int { return shim.Threads() }

// ManualSeed seeds libtorch's CPU and CUDA generators: parameter init,
// Rand, Randn and Dropout then repeat exactly.
func ManualSeed(seed uint64) { shim.ManualSeed(seed) }

func init() {
	// Debian's libtorch starts with one thread; use every core like
	// PyTorch's own default.
	_ = shim.SetThreads(runtime.NumCPU())
	// OpenBLAS's own threads fight libtorch's (see shim.cpp); an explicit
	// OPENBLAS_NUM_THREADS still wins.
	if os.Getenv("OPENBLAS_NUM_THREADS") == "" {
		shim.SingleThreadBLAS()
	}
	// FACESYNTH_TORCH_MALLOC=glibc keeps glibc's default malloc behaviour
	// (for measuring; see shim.cpp for why it is tuned).
	if os.Getenv("FACESYNTH_TORCH_MALLOC") != "glibc" {
		_ = shim.TuneMalloc()
	}
}
