package torch

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"runtime"
	"sort"
	"unsafe"

	"github.com/facesynth/facesynth/internal/fsutil"
	"github.com/facesynth/facesynth/internal/torch/shim"
)

// The safetensors format (huggingface/safetensors): an 8-byte
// little-endian header length, a JSON object mapping each tensor name to
// {"dtype", "shape", "data_offsets": [begin, end]} plus an optional
// "__metadata__" string map, then the tensors' raw little-endian bytes,
// the offsets counting from the end of the header and tiling the data.

const maxSafetensorsHeader = 100 << 20 // the reference implementation's limit

var stDTypes = map[string]struct {
	code int
	size int64
}{
	"F32": {shim.DTypeF32, 4}, "F64": {shim.DTypeF64, 8}, "F16": {shim.DTypeF16, 2}, "BF16": {shim.DTypeBF16, 2},
	"I64": {shim.DTypeI64, 8}, "I32": {shim.DTypeI32, 4}, "U8": {shim.DTypeU8, 1}, "BOOL": {shim.DTypeBool, 1},
}

func stName(d DType) (string, bool) {
	for n, v := range stDTypes {
		if v.code == int(d) {
			return n, true
		}
	}
	return "", false
}

// stEntry is one tensor of a parsed header.
type stEntry struct {
	Name  string
	DType string
	Shape []int64
	Begin int64 // offsets into the data section
	End   int64
}

type stHeaderEntry struct {
	DType   *string  `json:"dtype"`
	Shape   *[]int64 `json:"shape"`
	Offsets *[]int64 `json:"data_offsets"`
}

// parseSafetensors validates a whole file's bytes and returns its entries
// sorted by offset, its metadata and where the data section starts. It
// never trusts a size from the file before checking it against len(file).
func parseSafetensors(file []byte) (entries []stEntry, meta map[string]string, dataStart int64, err error) {
	if len(file) < 8 {
		return nil, nil, 0, fmt.Errorf("file of %d bytes is too short for a header length", len(file))
	}
	n := binary.LittleEndian.Uint64(file[:8])
	if n > maxSafetensorsHeader || n > uint64(len(file)-8) {
		return nil, nil, 0, fmt.Errorf("header length %d does not fit the %d-byte file (truncated or not safetensors)", n, len(file))
	}
	header := file[8 : 8+n]
	dataStart = int64(8 + n)
	dataLen := int64(len(file)) - dataStart

	dec := json.NewDecoder(bytes.NewReader(header))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, 0, errors.New("header is not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, 0, fmt.Errorf("header JSON: %v", err)
		}
		name, _ := tok.(string)
		if seen[name] {
			return nil, nil, 0, fmt.Errorf("header names %q twice", name)
		}
		seen[name] = true
		if name == "__metadata__" {
			if err := dec.Decode(&meta); err != nil {
				return nil, nil, 0, fmt.Errorf("header __metadata__ is not a string map: %v", err)
			}
			continue
		}
		var h stHeaderEntry
		if err := dec.Decode(&h); err != nil {
			return nil, nil, 0, fmt.Errorf("header entry %q: %v", name, err)
		}
		e, err := h.entry(name)
		if err != nil {
			return nil, nil, 0, err
		}
		entries = append(entries, e)
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, nil, 0, errors.New("header JSON object is not closed")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, 0, errors.New("header has bytes after its JSON object")
	}

	// The tensors must tile the data section exactly: no gaps, no overlaps,
	// nothing past its end, nothing left over (a truncated file fails here).
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].Begin != entries[j].Begin {
			return entries[i].Begin < entries[j].Begin
		}
		return entries[i].End < entries[j].End
	})
	var at int64
	for _, e := range entries {
		if e.Begin != at {
			return nil, nil, 0, fmt.Errorf("tensor %q starts at data offset %d, want %d (gap or overlap)", e.Name, e.Begin, at)
		}
		at = e.End
	}
	if at != dataLen {
		return nil, nil, 0, fmt.Errorf("tensors cover %d data bytes, the file has %d (truncated or padded)", at, dataLen)
	}
	return entries, meta, dataStart, nil
}

func (h stHeaderEntry) entry(name string) (stEntry, error) {
	if h.DType == nil || h.Shape == nil || h.Offsets == nil {
		return stEntry{}, fmt.Errorf("header entry %q lacks dtype, shape or data_offsets", name)
	}
	dt, ok := stDTypes[*h.DType]
	if !ok {
		return stEntry{}, fmt.Errorf("tensor %q has unsupported dtype %q", name, *h.DType)
	}
	if len(*h.Offsets) != 2 {
		return stEntry{}, fmt.Errorf("tensor %q: data_offsets must be [begin, end]", name)
	}
	size := uint64(dt.size)
	for _, s := range *h.Shape {
		if s < 0 {
			return stEntry{}, fmt.Errorf("tensor %q has negative size in shape %v", name, *h.Shape)
		}
		hi, lo := bits.Mul64(size, uint64(s))
		if hi != 0 || lo > math.MaxInt64 {
			return stEntry{}, fmt.Errorf("tensor %q: shape %v overflows", name, *h.Shape)
		}
		size = lo
	}
	b, e := (*h.Offsets)[0], (*h.Offsets)[1]
	if b < 0 || e < b || uint64(e-b) != size {
		return stEntry{}, fmt.Errorf("tensor %q: data_offsets [%d, %d] do not hold %d bytes of %s %v", name, b, e, size,
			*h.DType, *h.Shape)
	}
	return stEntry{Name: name, DType: *h.DType, Shape: *h.Shape, Begin: b, End: e}, nil
}

var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// LoadSafetensors reads a safetensors file into CPU tensors of the file's
// dtypes (F32, F64, F16, BF16, I64, I32, U8, BOOL). A truncated, padded or
// malformed file is rejected with an error naming the fault. The tensors
// are the caller's to Close (they are recorded in the current scope, if
// any).
func LoadSafetensors(path string) (map[string]*Tensor, map[string]string, error) {
	file, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("torch: load safetensors: %w", err)
	}
	return DecodeSafetensors(file, path)
}

// DecodeSafetensors is LoadSafetensors of a file already in memory (a
// model embedded in the binary); name stands for it in errors.
func DecodeSafetensors(file []byte, name string) (map[string]*Tensor, map[string]string, error) {
	path := name
	entries, meta, start, err := parseSafetensors(file)
	if err != nil {
		return nil, nil, fmt.Errorf("torch: load %s: %w", path, err)
	}
	if !littleEndian {
		return nil, nil, fmt.Errorf("torch: load %s: big-endian hosts are not supported", path)
	}
	out := make(map[string]*Tensor, len(entries))
	for _, e := range entries {
		data := file[start+e.Begin : start+e.End]
		var p unsafe.Pointer
		if len(data) > 0 {
			p = unsafe.Pointer(&data[0])
		}
		// The bytes are the tensor's native little-endian representation;
		// the shim copies them as they are.
		h, err := shim.FromData(p, stDTypes[e.DType].code, e.Shape)
		t := newTensor("load safetensors", h, err)
		if t.err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, nil, fmt.Errorf("torch: load %s: tensor %q: %w", path, e.Name, t.err)
		}
		out[e.Name] = t
	}
	runtime.KeepAlive(file)
	if meta == nil {
		meta = map[string]string{}
	}
	return out, meta, nil
}

// SaveSafetensors writes tensors (any device; F32, F64, F16, BF16, I64,
// I32, U8 or BOOL) and string metadata to path atomically: a reader sees
// the old file or the complete new one, never a partial write.
func SaveSafetensors(path string, tensors map[string]*Tensor, meta map[string]string) error {
	if !littleEndian {
		return fmt.Errorf("torch: save %s: big-endian hosts are not supported", path)
	}
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		if n == "__metadata__" || n == "" {
			return fmt.Errorf("torch: save %s: reserved tensor name %q", path, n)
		}
		names = append(names, n)
	}
	sort.Strings(names)

	type rec struct {
		DType   string   `json:"dtype"`
		Shape   []int64  `json:"shape"`
		Offsets [2]int64 `json:"data_offsets"`
	}
	header := map[string]any{}
	if len(meta) > 0 {
		header["__metadata__"] = meta
	}
	infos := make([]info, len(names))
	var at int64
	for i, n := range names {
		inf, err := tensors[n].info("save " + n)
		if err != nil {
			return fmt.Errorf("torch: save %s: %w", path, err)
		}
		dt, ok := stName(inf.dtype)
		if !ok {
			return fmt.Errorf("torch: save %s: tensor %q has unsupported dtype %v", path, n, inf.dtype)
		}
		size := numel(inf.shape) * stDTypes[dt].size
		header[n] = rec{DType: dt, Shape: append([]int64{}, inf.shape...), Offsets: [2]int64{at, at + size}}
		infos[i] = inf
		at += size
	}
	js, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("torch: save %s: %w", path, err)
	}
	// Pad the header with spaces so the data starts 8-byte aligned, as the
	// reference writer does (readers may then map it in place).
	for (8+len(js))%8 != 0 {
		js = append(js, ' ')
	}

	f, err := fsutil.CreateTemp(path)
	if err != nil {
		return fmt.Errorf("torch: save %s: %w", path, err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	err = binary.Write(w, binary.LittleEndian, uint64(len(js)))
	if err == nil {
		_, err = w.Write(js)
	}
	var buf []byte
	for i, n := range names {
		if err != nil {
			break
		}
		inf := infos[i]
		dt, _ := stName(inf.dtype)
		size := numel(inf.shape) * stDTypes[dt].size
		if int64(cap(buf)) < size {
			buf = make([]byte, size)
		}
		buf = buf[:size]
		if size > 0 {
			t := tensors[n]
			err = shim.CopyOut(t.h, unsafe.Pointer(&buf[0]), int(inf.dtype), numel(inf.shape))
			runtime.KeepAlive(t)
			if err != nil {
				err = fmt.Errorf("tensor %q: %w", n, err)
				break
			}
		}
		_, err = w.Write(buf)
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Commit()
	} else {
		_ = f.Abort()
	}
	if err != nil {
		return fmt.Errorf("torch: save %s: %w", path, err)
	}
	return nil
}
