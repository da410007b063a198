package swap

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/facesynth/facesynth/internal/torch"
)

// smallConfig trains quickly on synthetic sets.
func smallConfig() Config {
	c := DefaultConfig()
	c.Batch = 2
	c.DSSIM = 0.5 // exercise every loss term
	return c
}

// newTestTrainer is a light model and its trainer on synthetic faces,
// seeded with seed.
func newTestTrainer(t testing.TB, seed uint64, c Config) *Trainer {
	t.Helper()
	needTorch(t)
	torch.ManualSeed(seed)
	m := mustModel(t, "light")
	tr, err := NewTrainer(m, testSet(3, 64), testSet(4, 64), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.Close)
	return tr
}

func steps(t testing.TB, tr *Trainer, n int) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for range n {
		if _, err := tr.Step(); err != nil {
			t.Fatal(err)
		}
	}
}

func weights(t testing.TB, m *Model) map[string][]float32 {
	t.Helper()
	out := map[string][]float32{}
	for _, p := range m.params.All() {
		v, err := p.Tensor.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		out[p.Name] = v
	}
	return out
}

func sameWeights(t testing.TB, what string, a, b map[string][]float32) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: %d vs %d tensors", what, len(a), len(b))
	}
	for n, v := range a {
		if !slices.Equal(v, b[n]) {
			t.Fatalf("%s: %s differs", what, n)
		}
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Save, restore into a differently initialised trainer, save again: the
// files must be byte for byte the same (weights, Adam moments, Adam step
// counts), and so must the weights in memory.
func TestCheckpointRoundTripIsBitExact(t *testing.T) {
	tr := newTestTrainer(t, 1, smallConfig())
	steps(t, tr, 2)
	d1, d2 := t.TempDir(), t.TempDir()
	if err := tr.SaveCheckpoint(d1, State{History: []LossPoint{{Step: 2, A: 0.5, B: 0.25}}}); err != nil {
		t.Fatal(err)
	}
	st, err := ReadState(d1)
	if err != nil {
		t.Fatal(err)
	}
	if st.Step != 2 || st.Arch.Name != "light" || st.Config.Batch != 2 || len(st.History) != 1 {
		t.Fatalf("state %+v", st)
	}

	other := newTestTrainer(t, 99, smallConfig())
	if err := other.Restore(d1, st); err != nil {
		t.Fatal(err)
	}
	if other.StepCount() != 2 || other.Optimizer().Steps() != 2 {
		t.Fatalf("restored step %d, optimizer steps %d; want 2", other.StepCount(), other.Optimizer().Steps())
	}
	sameWeights(t, "restored", weights(t, tr.Model), weights(t, other.Model))
	if err := other.SaveCheckpoint(d2, State{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{st.Weights, st.Optimizer} {
		if !bytes.Equal(readFile(t, filepath.Join(d1, f)), readFile(t, filepath.Join(d2, f))) {
			t.Errorf("%s: saving the restored trainer gives different bytes", f)
		}
	}
	// Load for swapping gives the same weights too.
	m, err := Load(d1)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	sameWeights(t, "Load", weights(t, tr.Model), weights(t, m))
}

// Training 2 steps, checkpointing, restoring and training 2 more equals
// training 4 steps straight: same batches, same optimiser state.
func TestResumeContinuesTheSameRun(t *testing.T) {
	straight := newTestTrainer(t, 5, smallConfig())
	steps(t, straight, 4)

	first := newTestTrainer(t, 5, smallConfig())
	steps(t, first, 2)
	dir := t.TempDir()
	if err := first.SaveCheckpoint(dir, State{}); err != nil {
		t.Fatal(err)
	}
	st, err := ReadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	resumed := newTestTrainer(t, 77, smallConfig())
	if err := resumed.Restore(dir, st); err != nil {
		t.Fatal(err)
	}
	steps(t, resumed, 2)
	if resumed.StepCount() != 4 || resumed.Optimizer().Steps() != 4 {
		t.Fatalf("resumed run at step %d (optimizer %d), want 4", resumed.StepCount(), resumed.Optimizer().Steps())
	}
	sameWeights(t, "resumed vs straight", weights(t, straight.Model), weights(t, resumed.Model))

	// The previous checkpoint's files are removed only after a newer one
	// is complete.
	if err := resumed.SaveCheckpoint(dir, State{}); err != nil {
		t.Fatal(err)
	}
	names := dirNames(t, dir)
	want := []string{StateFile, "optimizer-00000004.safetensors", "weights-00000004.safetensors"}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("model folder holds %v, want %v", names, want)
	}
}

func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n []string
	for _, e := range es {
		n = append(n, e.Name())
	}
	slices.Sort(n)
	return n
}

func TestCheckpointErrors(t *testing.T) {
	tr := newTestTrainer(t, 1, smallConfig())
	steps(t, tr, 1)
	dir := t.TempDir()
	if err := tr.SaveCheckpoint(dir, State{}); err != nil {
		t.Fatal(err)
	}
	st, err := ReadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	copyDir := func(t *testing.T) string {
		d := t.TempDir()
		for _, n := range dirNames(t, dir) {
			if err := os.WriteFile(filepath.Join(d, n), readFile(t, filepath.Join(dir, n)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	oneLine := func(t *testing.T, err error, want string) {
		t.Helper()
		if err == nil {
			t.Fatalf("no error, want one containing %q", want)
		}
		t.Logf("%s", err)
		if msg := err.Error(); !strings.Contains(msg, want) || strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "swap: ") {
			t.Errorf("error %q: want one line starting \"swap: \" containing %q", msg, want)
		}
	}

	t.Run("truncated weights", func(t *testing.T) {
		d := copyDir(t)
		p := filepath.Join(d, st.Weights)
		b := readFile(t, p)
		if err := os.WriteFile(p, b[:len(b)/2], 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(d)
		oneLine(t, err, "truncated")
		oneLine(t, newTestTrainer(t, 1, smallConfig()).Restore(d, st), "truncated")
	})
	t.Run("truncated optimizer", func(t *testing.T) {
		d := copyDir(t)
		p := filepath.Join(d, st.Optimizer)
		b := readFile(t, p)
		if err := os.WriteFile(p, b[:len(b)-100], 0o644); err != nil {
			t.Fatal(err)
		}
		oneLine(t, newTestTrainer(t, 1, smallConfig()).Restore(d, st), "truncated")
	})
	t.Run("truncated state", func(t *testing.T) {
		d := copyDir(t)
		p := filepath.Join(d, StateFile)
		b := readFile(t, p)
		if err := os.WriteFile(p, b[:len(b)/2], 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(d)
		oneLine(t, err, "not a facesynth swap checkpoint")
	})
	t.Run("weights of another architecture", func(t *testing.T) {
		a := mustArch(t, "light")
		a.Name, a.Dense = "narrow", 128
		m, err := New(a)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		oneLine(t, m.loadWeights(filepath.Join(dir, st.Weights), -1), "does not match")
	})
	t.Run("resume with another architecture", func(t *testing.T) {
		_, err := Train(context.Background(), "unused", "unused", dir, Options{Arch: mustArch(t, "original"), Resume: true})
		oneLine(t, err, `checkpoint is architecture "light", not "original"`)
	})
	t.Run("new run into a used folder", func(t *testing.T) {
		_, err := Train(context.Background(), "unused", "unused", dir, Options{Arch: mustArch(t, "light")})
		oneLine(t, err, "holds a checkpoint at step 1 already")
	})
	t.Run("resume without checkpoint", func(t *testing.T) {
		_, err := Train(context.Background(), "unused", "unused", t.TempDir(), Options{Resume: true})
		oneLine(t, err, "no checkpoint")
		if !errors.Is(err, ErrNoCheckpoint) {
			t.Errorf("%v does not wrap ErrNoCheckpoint", err)
		}
	})
	t.Run("state and weights of different saves", func(t *testing.T) {
		d := copyDir(t)
		bad := *st
		bad.Step = 7
		oneLine(t, newTestTrainer(t, 1, smallConfig()).Restore(d, &bad), "weights of step 1, state.json says step 7")
	})
}

// python3 is Debian's interpreter with python3-torch; the test that needs it
// is skipped when it lacks torch.
const python3 = "/usr/bin/python3"

func needPyTorch(t *testing.T) {
	t.Helper()
	if err := exec.Command(python3, "-c", "import torch").Run(); err != nil {
		t.Skipf("%s cannot import torch: %v", python3, err)
	}
}

// pyForward reads our weights and an input batch with nothing but the
// safetensors layout (a little-endian u64 header length, a JSON header,
// raw data) and torch.frombuffer, runs encoder and decoder A written as in
// /work/shared/bench/deepfakes_reference.py, and prints the largest
// difference from our output. It also loads the optimizer file.
const pyForward = `
import json, struct, sys
import torch
import torch.nn.functional as F

def load(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, e in header.items():
        assert e["dtype"] == "F32", e
        b, end = e["data_offsets"]
        t = torch.frombuffer(bytearray(raw[8 + n + b:8 + n + end]), dtype=torch.float32)
        out[name] = t.reshape(e["shape"])
    return out, meta

w, meta = load(sys.argv[1])
io, _ = load(sys.argv[2])
opt, _ = load(sys.argv[3])
arch = json.loads(meta["arch"])

def upscale(x, p):
    return F.pixel_shuffle(F.leaky_relu(F.conv2d(x, w[p + ".conv.weight"], w[p + ".conv.bias"], padding=1), 0.1), 2)

x = io["input"]
for i in range(len(arch["encoder"])):
    p = "encoder.conv%d" % (i + 1)
    x = F.leaky_relu(F.conv2d(x, w[p + ".weight"], w[p + ".bias"], stride=2, padding=2), 0.1)
x = F.linear(F.linear(x.flatten(1), w["encoder.dense1.weight"], w["encoder.dense1.bias"]),
             w["encoder.dense2.weight"], w["encoder.dense2.bias"])
x = upscale(x.view(-1, arch["seed"], 4, 4), "encoder.up")
for i in range(len(arch["decoder"])):
    x = upscale(x, "decoder_a.up%d" % (i + 1))
rgb = torch.sigmoid(F.conv2d(x, w["decoder_a.out.weight"], w["decoder_a.out.bias"], padding=2))
print("maxdiff", (rgb - io["rgb"]).abs().max().item())
moments = [k for k in opt if k.endswith(".exp_avg")]
print("moments", len(moments), "params", len(w))
`

func TestWeightsLoadInPyTorchAndMatchTheReference(t *testing.T) {
	needPyTorch(t)
	tr := newTestTrainer(t, 3, smallConfig())
	steps(t, tr, 1) // so that the optimizer file holds real moments
	dir := t.TempDir()
	if err := tr.SaveCheckpoint(dir, State{}); err != nil {
		t.Fatal(err)
	}
	st, err := ReadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	var rgb *torch.Tensor
	x := torch.Rand(2, 3, 64, 64)
	defer x.Close()
	torch.NoGrad(func() { rgb, _ = tr.Model.Forward(x, A) })
	defer rgb.Close()
	io := filepath.Join(dir, "io.safetensors")
	if err := torch.SaveSafetensors(io, map[string]*torch.Tensor{"input": x, "rgb": rgb}, nil); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "forward.py")
	if err := os.WriteFile(script, []byte(pyForward), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python3, script, filepath.Join(dir, st.Weights), io, filepath.Join(dir, st.Optimizer)).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	t.Logf("python: %s", strings.TrimSpace(string(out)))
	var diff float64
	var moments, params int
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "maxdiff":
			diff, _ = strconv.ParseFloat(f[1], 64)
		case len(f) == 4 && f[0] == "moments":
			moments, _ = strconv.Atoi(f[1])
			params, _ = strconv.Atoi(f[3])
		}
	}
	// Same libtorch kernels on the same data: equal up to summation order.
	if !(diff < 1e-5) {
		t.Errorf("PyTorch's forward pass differs from ours by up to %g (want < 1e-5)\n%s", diff, out)
	}
	if n := len(tr.Model.params.All()); params != n || moments != n {
		t.Errorf("PyTorch read %d weights and %d Adam moments, want %d of each", params, moments, n)
	}
}
