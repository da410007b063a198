package torch

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/facesynth/facesynth/internal/torch/shim"
)

// Param is one named tensor of a model: a trainable weight, or a buffer
// such as BatchNorm's running mean that checkpoints keep but the optimiser
// does not touch.
type Param struct {
	Name      string
	Tensor    *Tensor
	Trainable bool
}

// Params is a store of named parameters, or a view of one under a name
// prefix (Sub): the model's layers register their tensors here, the
// optimiser takes Trainable(), and Save/Load checkpoint them. Names follow
// PyTorch's state_dict: "encoder.conv1.weight". The store owns its tensors;
// Close frees them.
type Params struct {
	prefix string // "" or "encoder.conv1."
	s      *paramStore
}

type paramStore struct {
	mu       sync.Mutex
	order    []string
	byName   map[string]*Param
	training bool
	err      error
}

// NewParams is an empty store in training mode.
func NewParams() *Params {
	return &Params{s: &paramStore{byName: map[string]*Param{}, training: true}}
}

// Sub is the view of p under name: p.Sub("encoder").Sub("conv1") registers
// "encoder.conv1.weight".
func (p *Params) Sub(name string) *Params { return &Params{prefix: p.prefix + name + ".", s: p.s} }

// Name is the full name that name has in this view.
func (p *Params) Name(name string) string { return p.prefix + name }

// Training reports whether layers run in training mode (BatchNorm batch
// statistics, Dropout on); it is one switch for the whole store.
func (p *Params) Training() bool {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return p.s.training
}

// SetTraining switches the whole store between training and evaluation.
func (p *Params) SetTraining(on bool) {
	p.s.mu.Lock()
	p.s.training = on
	p.s.mu.Unlock()
}

// Err is the first error met while registering parameters (duplicate
// name, failed allocation), or nil.
func (p *Params) Err() error {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return p.s.err
}

func (p *Params) fail(t *Tensor) *Tensor {
	p.s.mu.Lock()
	if p.s.err == nil {
		p.s.err = t.err
	}
	p.s.mu.Unlock()
	return t
}

// Add registers t under name and takes ownership of it (it leaves any
// scope). Trainable tensors get requires_grad. It returns t, or an error
// tensor (also recorded for Err) for a duplicate name or a bad t.
func (p *Params) Add(name string, t *Tensor, trainable bool) *Tensor {
	full := p.prefix + name
	if name == "" || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") {
		return p.fail(errTensor("params", fmt.Errorf("bad parameter name %q", full)))
	}
	if err := check("params: "+full, t); err != nil {
		return p.fail(&Tensor{err: err})
	}
	scopeMu.Lock()
	if t.scope != nil {
		t.scope = nil // the scope skips tensors it no longer owns
	}
	scopeMu.Unlock()
	if trainable {
		if err := t.SetRequiresGrad(true); err != nil {
			return p.fail(&Tensor{err: err})
		}
	}
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	if _, dup := p.s.byName[full]; dup {
		e := errTensor("params", fmt.Errorf("duplicate parameter name %q", full))
		if p.s.err == nil {
			p.s.err = e.err
		}
		return e
	}
	p.s.byName[full] = &Param{Name: full, Tensor: t, Trainable: trainable}
	p.s.order = append(p.s.order, full)
	return t
}

// Uniform registers a trainable float32 CPU parameter drawn uniformly from
// [-bound, bound) with the seeded generator.
func (p *Params) Uniform(name string, bound float64, shape ...int64) *Tensor {
	t := p.Add(name, newUnscoped(shapeFill(shim.FillZeros, shape)), true)
	if err := t.Uniform(-bound, bound); err != nil {
		return p.fail(&Tensor{err: err})
	}
	return t
}

// Constant registers a float32 CPU tensor filled with v: a trainable
// parameter (norm scales and shifts) or a buffer (running statistics).
func (p *Params) Constant(name string, v float64, trainable bool, shape ...int64) *Tensor {
	return p.Add(name, newUnscoped(shapeFill(shim.FillFull, shape, v)), trainable)
}

func shapeFill(kind int, shape []int64, v ...float64) (string, shim.Handle, error) {
	for _, s := range shape {
		if s < 0 {
			return "params", nil, fmt.Errorf("negative size in shape %v", shape)
		}
	}
	value := 0.0
	if len(v) > 0 {
		value = v[0]
	}
	h, err := shim.Fill(kind, shape, value, shim.DTypeF32, shim.DevCPU, 0)
	return "params", h, err
}

// KaimingBound is PyTorch's default init bound for layers with fan_in
// inputs per output: kaiming_uniform(a=√5) reduces to 1/√fan_in, and the
// bias uses the same bound. Computed with PyTorch's own steps, so a
// seeded init matches PyTorch's bit for bit.
func KaimingBound(fanIn int64) float64 {
	if fanIn <= 0 {
		return 0
	}
	a := math.Sqrt(5)
	gain := math.Sqrt(2.0 / (1 + a*a))
	std := gain / math.Sqrt(float64(fanIn))
	return math.Sqrt(3.0) * std
}

// BiasBound is PyTorch's bias init bound, 1/√fan_in.
func BiasBound(fanIn int64) float64 {
	if fanIn <= 0 {
		return 0
	}
	return 1 / math.Sqrt(float64(fanIn))
}

// Get is the tensor registered as name in this view, or nil.
func (p *Params) Get(name string) *Tensor {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	if e, ok := p.s.byName[p.prefix+name]; ok {
		return e.Tensor
	}
	return nil
}

func (p *Params) list(trainableOnly bool) []Param {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	var out []Param
	for _, n := range p.s.order {
		e := p.s.byName[n]
		if strings.HasPrefix(n, p.prefix) && (!trainableOnly || e.Trainable) {
			out = append(out, *e)
		}
	}
	return out
}

// Trainable lists this view's trainable parameters in registration order.
func (p *Params) Trainable() []Param { return p.list(true) }

// All lists this view's parameters and buffers in registration order.
func (p *Params) All() []Param { return p.list(false) }

// Count is the number of trainable elements in this view.
func (p *Params) Count() int64 {
	var n int64
	for _, e := range p.Trainable() {
		n += e.Tensor.Numel()
	}
	return n
}

// To moves this view's tensors to dev in place: layers keep their
// *Tensor pointers. Move before creating the optimiser.
func (p *Params) To(dev Device) error {
	for _, e := range p.All() {
		t := e.Tensor
		if err := check("params to", t); err != nil {
			return err
		}
		h, err := shim.To(t.h, int(dev.Type), dev.Index, shim.DTypeF32)
		if err == nil && e.Trainable {
			// The copy is a non-leaf of the original; detach so it is a
			// leaf parameter of its own.
			var d shim.Handle
			d, err = shim.Unary(shim.OpDetach, h)
			shim.Free(h)
			h = d
			if err == nil {
				err = shim.SetRequiresGrad(h, true)
			}
		}
		if err != nil {
			if h != nil {
				shim.Free(h)
			}
			return fmt.Errorf("torch: params: move %s to %v: %w", e.Name, dev, err)
		}
		shim.Free(t.h)
		t.h = h
	}
	return nil
}

// Close frees this view's tensors and forgets them.
func (p *Params) Close() {
	p.s.mu.Lock()
	var free []*Tensor
	keep := p.s.order[:0]
	for _, n := range p.s.order {
		if strings.HasPrefix(n, p.prefix) {
			free = append(free, p.s.byName[n].Tensor)
			delete(p.s.byName, n)
		} else {
			keep = append(keep, n)
		}
	}
	p.s.order = keep
	p.s.mu.Unlock()
	for _, t := range free {
		t.Close()
	}
}

// Save writes this view's parameters and buffers to a safetensors file
// atomically, with meta as its "__metadata__".
func (p *Params) Save(path string, meta map[string]string) error {
	if err := p.Err(); err != nil {
		return err
	}
	m := map[string]*Tensor{}
	for _, e := range p.All() {
		m[e.Name] = e.Tensor
	}
	return SaveSafetensors(path, m, meta)
}

// Load copies the tensors of a safetensors file into this view's
// parameters (onto their device) and returns the file's metadata. Every
// parameter must be in the file with its shape; other entries are
// ignored, so a part of a model loads from the whole model's checkpoint.
func (p *Params) Load(path string) (map[string]string, error) {
	ts, meta, err := LoadSafetensors(path)
	if err != nil {
		return nil, err
	}
	return p.load(ts, meta, path)
}

// LoadBytes is Load of a safetensors file in memory (a model embedded in
// the binary); name stands for it in errors.
func (p *Params) LoadBytes(file []byte, name string) (map[string]string, error) {
	ts, meta, err := DecodeSafetensors(file, name)
	if err != nil {
		return nil, err
	}
	return p.load(ts, meta, name)
}

// load copies ts into the parameters and closes them.
func (p *Params) load(ts map[string]*Tensor, meta map[string]string, path string) (map[string]string, error) {
	defer func() {
		for _, t := range ts {
			t.Close()
		}
	}()
	var missing []string
	for _, e := range p.All() {
		src, ok := ts[e.Name]
		if !ok {
			missing = append(missing, e.Name)
			continue
		}
		if want, got := e.Tensor.Shape(), src.Shape(); !sameShape(want, got) {
			return nil, fmt.Errorf("torch: load %s: %s has shape %v in the file, %v in the model", path, e.Name, got, want)
		}
		if err := e.Tensor.CopyFrom(src); err != nil {
			return nil, fmt.Errorf("torch: load %s: %s: %w", path, e.Name, err)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("torch: load %s: %d parameters missing from the file: %s", path, len(missing),
			strings.Join(missing, ", "))
	}
	return meta, nil
}

func sameShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

var errEmpty = errors.New("no parameters")
