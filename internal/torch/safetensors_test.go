//go:build cgo

package torch

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func writeSample(t *testing.T, path string) map[string]*Tensor {
	t.Helper()
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		math.Float32frombits(0x7fc00001), math.Float32frombits(1), math.MaxFloat32, -1.5}
	ts := map[string]*Tensor{
		"a.weight": FromFloat32(special, 2, 4),
		"a.bias":   FromFloat32([]float32{3.25}),
		"scalar":   Scalar(-7),
		"empty":    Zeros(0, 3),
		"index":    FromInt64([]int64{-1, 1 << 40, 7}),
		"half":     FromFloat32([]float32{1, 0.5, -2}).ToDType(Float16),
	}
	if err := SaveSafetensors(path, ts, map[string]string{"format": "pt", "note": "ünïcode"}); err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestSafetensorsRoundTrip(t *testing.T) {
	s := NewScope()
	defer s.Close()
	path := filepath.Join(t.TempDir(), "x.safetensors")
	want := writeSample(t, path)
	got, meta, err := LoadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	if meta["format"] != "pt" || meta["note"] != "ünïcode" || len(meta) != 2 {
		t.Fatalf("metadata %v", meta)
	}
	if len(got) != len(want) {
		t.Fatalf("%d tensors, want %d", len(got), len(want))
	}
	for name, w := range want {
		g := got[name]
		if g == nil || !sameShape(g.Shape(), w.Shape()) || g.DType() != w.DType() {
			t.Fatalf("%s: got %v, want %v", name, g, w)
		}
		if w.DType() == Int64 {
			a, _ := w.Int64s()
			b, _ := g.Int64s()
			for i := range a {
				if a[i] != b[i] {
					t.Fatalf("%s[%d] = %d, want %d", name, i, b[i], a[i])
				}
			}
			continue
		}
		a, b := vals(t, w), vals(t, g)
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("%s[%d] = %08x, want %08x", name, i, math.Float32bits(b[i]), math.Float32bits(a[i]))
			}
		}
	}
	// Layout: header length, 8-byte aligned data, F32 bytes little-endian.
	file, _ := os.ReadFile(path)
	n := binary.LittleEndian.Uint64(file)
	if (8+n)%8 != 0 {
		t.Fatalf("data starts at %d, not 8-byte aligned", 8+n)
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(file[8:8+n], &hdr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(hdr["a.bias"]), `"dtype":"F32"`) || !strings.Contains(string(hdr["half"]), `"F16"`) {
		t.Fatalf("header %s", file[8:8+n])
	}
	// No temporary file is left beside the target.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("directory holds %d files", len(entries))
	}
}

func TestSafetensorsRejectsCorruption(t *testing.T) {
	s := NewScope()
	defer s.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "x.safetensors")
	writeSample(t, path)
	good, _ := os.ReadFile(path)
	if _, _, _, err := parseSafetensors(good); err != nil {
		t.Fatal(err)
	}
	// Every truncation fails.
	for n := 0; n < len(good); n++ {
		if _, _, _, err := parseSafetensors(good[:n]); err == nil {
			t.Fatalf("file truncated to %d of %d bytes parsed", n, len(good))
		}
	}
	header := func(h string, data int) []byte {
		var b bytes.Buffer
		binary.Write(&b, binary.LittleEndian, uint64(len(h)))
		b.WriteString(h)
		b.Write(make([]byte, data))
		return b.Bytes()
	}
	for _, tc := range []struct {
		name, want string
		file       []byte
	}{
		{"garbage", "does not fit", []byte("this is not a safetensors file at all")},
		{"huge header length", "does not fit", append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, good[8:]...)},
		{"not json", "not a JSON object", header("[1, 2]", 0)},
		{"bad json", "header", header(`{"a": {"dtype": "F32",`, 0)},
		{"unknown dtype", "unsupported dtype", header(`{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}`, 1)},
		{"missing field", "lacks", header(`{"a":{"dtype":"F32","shape":[1]}}`, 4)},
		{"size mismatch", "do not hold", header(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, 4)},
		{"negative shape", "negative", header(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, 4)},
		{"overflow", "overflows", header(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, 4)},
		{"overlap", "gap or overlap", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}`, 6)},
		{"gap", "gap or overlap", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8)},
		{"trailing data", "cover 4 data bytes, the file has 5", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 5)},
		{"duplicate", "twice", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4)},
		{"bad metadata", "string map", header(`{"__metadata__":{"x":1}}`, 0)},
		{"junk after object", "after its JSON", header(`{} {}`, 0)},
	} {
		_, _, _, err := parseSafetensors(tc.file)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
	// Through the public API: a clear, prefixed error naming the file.
	bad := filepath.Join(dir, "bad.safetensors")
	os.WriteFile(bad, good[:len(good)-3], 0o644)
	if _, _, err := LoadSafetensors(bad); err == nil || !strings.HasPrefix(err.Error(), "torch: load "+bad+": ") {
		t.Fatalf("truncated file: %v", err)
	}
	if _, _, err := LoadSafetensors(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("missing file loaded")
	}
	// Valid edge cases: no tensors, padding spaces after the JSON.
	if e, _, _, err := parseSafetensors(header(`{}     `, 0)); err != nil || len(e) != 0 {
		t.Fatalf("empty file: %v", err)
	}
	if err := SaveSafetensors(filepath.Join(dir, "r"), map[string]*Tensor{"__metadata__": Zeros(1)}, nil); err == nil {
		t.Fatal("reserved name saved")
	}
	if err := SaveSafetensors(filepath.Join(dir, "e"), map[string]*Tensor{"x": FromFloat32(nil, 3)}, nil); err == nil {
		t.Fatal("error tensor saved")
	}
	if _, err := os.Stat(filepath.Join(dir, "e")); !os.IsNotExist(err) {
		t.Fatal("failed save left a file")
	}
}

func FuzzParseSafetensors(f *testing.F) {
	path := filepath.Join(f.TempDir(), "seed.safetensors")
	s := NewScope()
	ts := map[string]*Tensor{"w": FromFloat32([]float32{1, 2, 3, 4}, 2, 2), "i": FromInt64([]int64{5})}
	if err := SaveSafetensors(path, ts, map[string]string{"k": "v"}); err != nil {
		f.Fatal(err)
	}
	s.Close()
	seed, _ := os.ReadFile(path)
	f.Add(seed)
	f.Add([]byte{})
	f.Add([]byte("\x02\x00\x00\x00\x00\x00\x00\x00{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, _, start, err := parseSafetensors(b)
		if err != nil {
			return
		}
		// Whatever parses must describe bytes inside the file.
		for _, e := range entries {
			if e.Begin < 0 || e.End < e.Begin || start+e.End > int64(len(b)) {
				t.Fatalf("entry %+v outside a %d-byte file (data at %d)", e, len(b), start)
			}
		}
	})
}

// TestSafetensorsReadByPyTorch parses our file in Debian's Python with
// json and torch.frombuffer, as the safetensors library does, and checks
// the values (skipped where /usr/bin/python3 has no torch).
func TestSafetensorsReadByPyTorch(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import torch").Run(); err != nil {
		t.Skip("/usr/bin/python3 with torch not available")
	}
	s := NewScope()
	defer s.Close()
	path := filepath.Join(t.TempDir(), "x.safetensors")
	ts := map[string]*Tensor{
		"enc.w": FromFloat32([]float32{1.5, -2.25, 3e-8, 1e30, 0.1, 7}, 2, 3),
		"idx":   FromInt64([]int64{3, -4}),
	}
	if err := SaveSafetensors(path, ts, map[string]string{"epoch": "12"}); err != nil {
		t.Fatal(err)
	}
	script := `
import json, struct, sys, torch
b = open(sys.argv[1], "rb").read()
n, = struct.unpack("<Q", b[:8])
h = json.loads(b[8:8+n])
data = bytearray(b[8+n:])
dt = {"F32": torch.float32, "I64": torch.int64}
for k in sorted(h):
    if k == "__metadata__":
        print("meta", json.dumps(h[k], sort_keys=True)); continue
    s, e = h[k]["data_offsets"]
    t = torch.frombuffer(data[s:e], dtype=dt[h[k]["dtype"]]).reshape(h[k]["shape"])
    if t.dtype == torch.float32:  # exact: the bits
        t = t.view(torch.int32).flatten().tolist()
        print(k, h[k]["shape"], " ".join("%08x" % (v & 0xffffffff) for v in t))
    else:
        print(k, list(t.shape), " ".join(repr(v) for v in t.flatten().tolist()))
`
	out, err := exec.Command("/usr/bin/python3", "-c", script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	var bits []string
	for _, v := range []float32{1.5, -2.25, 3e-8, 1e30, 0.1, 7} {
		bits = append(bits, fmt.Sprintf("%08x", math.Float32bits(v)))
	}
	want := "meta {\"epoch\": \"12\"}\nenc.w [2, 3] " + strings.Join(bits, " ") + "\nidx [2] 3 -4\n"
	if string(out) != want {
		t.Fatalf("python read:\n%s\nwant:\n%s", out, want)
	}
}

// TestLoadBytes: a checkpoint read from memory gives the same weights as
// from its file, and a truncated one names the fault.
func TestLoadBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.safetensors")
	src := NewParams()
	defer src.Close()
	src.Uniform("a", 1, 3, 4)
	if err := src.Save(path, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dst := NewParams()
	defer dst.Close()
	dst.Constant("a", 0, true, 3, 4)
	meta, err := dst.LoadBytes(data, "w.safetensors")
	if err != nil || meta["k"] != "v" {
		t.Fatalf("LoadBytes: %v, meta %v", err, meta)
	}
	a, err := src.Get("a").Float32s()
	if err != nil {
		t.Fatal(err)
	}
	b, err := dst.Get("a").Float32s()
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("weight %d: %v from memory, %v saved", i, b[i], a[i])
		}
	}
	if _, err := dst.LoadBytes(data[:len(data)-5], "w.safetensors"); err == nil || !strings.Contains(err.Error(), "w.safetensors") {
		t.Errorf("truncated: %v, want an error naming w.safetensors", err)
	}
}
