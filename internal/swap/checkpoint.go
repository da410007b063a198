package swap

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/facesynth/facesynth/internal/fsutil"
)

// A model folder holds one checkpoint:
//
//	state.json                      step, architecture, hyper-parameters, loss
//	                                history, and the names of the two files below
//	weights-00001000.safetensors    the model's parameters (PyTorch state_dict names)
//	optimizer-00001000.safetensors  Adam's moments and step counts
//	preview.png, loss.png           the latest preview grid and loss curve
//
// A checkpoint is saved as: both safetensors files under new, step-numbered
// names (each written to a temporary file and renamed), then state.json the
// same way, and only then are the previous step's files removed. state.json
// is the commit point: a crash or SIGKILL at any moment leaves the
// previous state.json naming complete files of the previous checkpoint.
const (
	StateFile        = "state.json"
	PreviewFile      = "preview.png"
	LossPlotFile     = "loss.png"
	checkpointFormat = "facesynth-swap"
	checkpointVer    = 1
)

// ErrNoCheckpoint is the error of ReadState for a folder without one.
var ErrNoCheckpoint = errors.New("no checkpoint")

// State is a model folder's state.json.
type State struct {
	Format    string      `json:"format"`
	Version   int         `json:"version"`
	Step      int         `json:"step"`
	Arch      Arch        `json:"arch"`
	Config    Config      `json:"config"`
	Weights   string      `json:"weights"`
	Optimizer string      `json:"optimizer"`
	FacesA    string      `json:"faces_a,omitempty"`
	FacesB    string      `json:"faces_b,omitempty"`
	Seconds   float64     `json:"train_seconds"` // training time over all runs
	History   []LossPoint `json:"history"`
}

// LossPoint is the mean of each side's loss over the steps up to Step since
// the previous point.
type LossPoint struct {
	Step int     `json:"step"`
	A    float64 `json:"a"`
	B    float64 `json:"b"`
}

// ReadState reads and checks a model folder's state.json. A folder without
// one gives an error wrapping ErrNoCheckpoint.
func ReadState(dir string) (*State, error) {
	path := filepath.Join(dir, StateFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("swap: %s: %w (no %s)", dir, ErrNoCheckpoint, StateFile)
	}
	if err != nil {
		return nil, fmt.Errorf("swap: %w", err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("swap: %s: not a facesynth swap checkpoint: %v", path, err)
	}
	if st.Format != checkpointFormat {
		return nil, fmt.Errorf("swap: %s: not a facesynth swap checkpoint (format %q)", path, st.Format)
	}
	if st.Version != checkpointVer {
		return nil, fmt.Errorf("swap: %s: unsupported checkpoint version %d", path, st.Version)
	}
	if err := st.Arch.Validate(); err != nil {
		return nil, fmt.Errorf("swap: %s: %w", path, err)
	}
	for _, f := range []string{st.Weights, st.Optimizer} {
		if f == "" || f != filepath.Base(f) || strings.HasPrefix(f, ".") {
			return nil, fmt.Errorf("swap: %s: bad checkpoint file name %q", path, f)
		}
	}
	if st.Step < 0 {
		return nil, fmt.Errorf("swap: %s: negative step %d", path, st.Step)
	}
	return &st, nil
}

// weightsMeta is the metadata of a weights file: enough to rebuild the
// network from the file alone.
func weightsMeta(a Arch, step int) map[string]string {
	js, _ := json.Marshal(a)
	return map[string]string{"format": checkpointFormat, "arch": string(js), "step": strconv.Itoa(step)}
}

// SaveCheckpoint writes the trainer's model, optimiser and st (whose Step,
// Arch, Config, Weights and Optimizer it fills in) to dir, as described
// above.
func (t *Trainer) SaveCheckpoint(dir string, st State) error {
	st.Format, st.Version, st.Step = checkpointFormat, checkpointVer, t.step
	st.Arch, st.Config = t.Model.Arch, t.Config
	st.Weights = fmt.Sprintf("weights-%08d.safetensors", t.step)
	st.Optimizer = fmt.Sprintf("optimizer-%08d.safetensors", t.step)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("swap: save checkpoint: %w", err)
	}
	if err := t.Model.params.Save(filepath.Join(dir, st.Weights), weightsMeta(t.Model.Arch, t.step)); err != nil {
		return fmt.Errorf("swap: save checkpoint: %w", err)
	}
	if err := t.opt.Save(filepath.Join(dir, st.Optimizer)); err != nil {
		return fmt.Errorf("swap: save checkpoint: %w", err)
	}
	js, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		return fmt.Errorf("swap: save checkpoint: %w", err)
	}
	if err := fsutil.WriteFile(filepath.Join(dir, StateFile), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("swap: save checkpoint: %w", err)
	}
	removeStale(dir, st.Weights, st.Optimizer)
	return nil
}

// removeStale deletes the checkpoint files of earlier steps, and temporary
// files that a killed save left behind, keeping the current pair. It is
// best effort: a leftover costs disk space, not correctness.
func removeStale(dir string, keep ...string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		n := e.Name()
		stale := (strings.HasPrefix(n, "weights-") || strings.HasPrefix(n, "optimizer-")) && strings.HasSuffix(n, ".safetensors")
		temp := strings.HasPrefix(n, ".weights-") || strings.HasPrefix(n, ".optimizer-") || strings.HasPrefix(n, "."+StateFile+".tmp")
		if (stale || temp) && !e.IsDir() && n != keep[0] && n != keep[1] {
			os.Remove(filepath.Join(dir, n))
		}
	}
}

// Restore loads the checkpoint st of dir into the trainer: weights,
// optimiser state and step count. The trainer's model must have st's
// architecture.
func (t *Trainer) Restore(dir string, st *State) error {
	if !st.Arch.Equal(t.Model.Arch) {
		return archMismatch(dir, st.Arch, t.Model.Arch)
	}
	if err := t.Model.loadWeights(filepath.Join(dir, st.Weights), st.Step); err != nil {
		return err
	}
	path := filepath.Join(dir, st.Optimizer)
	if err := t.opt.Load(path); err != nil {
		return fmt.Errorf("swap: checkpoint: %w", err) // torch's error names the file
	}
	if got := t.opt.Steps(); got != int64(st.Step) {
		return fmt.Errorf("swap: checkpoint %s: optimizer state is at step %d, the checkpoint at step %d", path, got, st.Step)
	}
	t.step = st.Step
	return nil
}

func archMismatch(where string, have, want Arch) error {
	h, _ := json.Marshal(have)
	w, _ := json.Marshal(want)
	return fmt.Errorf("swap: %s: checkpoint architecture %q %s does not match the model's %q %s", where, have.Name, h, want.Name, w)
}

// loadWeights copies a weights file into m. step ≥ 0 must match the step
// the file was saved at (a guard against a state.json and weights of
// different saves).
func (m *Model) loadWeights(path string, step int) error {
	meta, err := readSafetensorsMeta(path)
	if err != nil {
		return err
	}
	a, err := metaArch(path, meta)
	if err != nil {
		return err
	}
	if !a.Equal(m.Arch) {
		return archMismatch(path, a, m.Arch)
	}
	if step >= 0 && meta["step"] != strconv.Itoa(step) {
		return fmt.Errorf("swap: checkpoint %s: weights of step %s, state.json says step %d", path, meta["step"], step)
	}
	if _, err := m.params.Load(path); err != nil {
		return fmt.Errorf("swap: checkpoint: %w", err)
	}
	return nil
}

func metaArch(path string, meta map[string]string) (Arch, error) {
	if meta["format"] != checkpointFormat {
		return Arch{}, fmt.Errorf("swap: %s: not facesynth swap weights (no %q format in its metadata)", path, checkpointFormat)
	}
	var a Arch
	if err := json.Unmarshal([]byte(meta["arch"]), &a); err != nil {
		return Arch{}, fmt.Errorf("swap: %s: bad architecture in metadata: %v", path, err)
	}
	if err := a.Validate(); err != nil {
		return Arch{}, fmt.Errorf("swap: %s: %w", path, err)
	}
	return a, nil
}

// readSafetensorsMeta reads only the header of a safetensors file and
// returns its __metadata__, so that the architecture is known before
// hundreds of megabytes of weights are read. The full load checks the rest.
func readSafetensorsMeta(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("swap: checkpoint: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("swap: checkpoint: %w", err)
	}
	var n uint64
	if err := binary.Read(f, binary.LittleEndian, &n); err != nil {
		return nil, fmt.Errorf("swap: checkpoint %s: truncated (%d bytes, no safetensors header)", path, st.Size())
	}
	if n > uint64(st.Size()-8) || n > 100<<20 {
		return nil, fmt.Errorf("swap: checkpoint %s: header length %d does not fit the %d-byte file (truncated or not safetensors)",
			path, n, st.Size())
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(f, hdr); err != nil {
		return nil, fmt.Errorf("swap: checkpoint %s: %w", path, err)
	}
	var h struct {
		Meta map[string]string `json:"__metadata__"`
	}
	if err := json.Unmarshal(hdr, &h); err != nil {
		return nil, fmt.Errorf("swap: checkpoint %s: header is not safetensors JSON: %v", path, err)
	}
	if h.Meta == nil {
		h.Meta = map[string]string{}
	}
	return h.Meta, nil
}

// Load opens a trained model for swapping: a model folder (its latest
// checkpoint) or a weights .safetensors file. Close it when done.
func Load(path string) (*Model, error) {
	weights, step := path, -1
	if st, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("swap: %w", err)
	} else if st.IsDir() {
		s, err := ReadState(path)
		if err != nil {
			return nil, err
		}
		weights, step = filepath.Join(path, s.Weights), s.Step
	}
	meta, err := readSafetensorsMeta(weights)
	if err != nil {
		return nil, err
	}
	a, err := metaArch(weights, meta)
	if err != nil {
		return nil, err
	}
	m, err := New(a)
	if err != nil {
		return nil, err
	}
	if err := m.loadWeights(weights, step); err != nil {
		m.Close()
		return nil, err
	}
	m.params.SetTraining(false)
	return m, nil
}
