package landmark

import (
	"bytes"
	"image"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/facesynth/facesynth/internal/assets"
	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/testmedia"
)

// encoder writes dlib's serialization format, to build small models and
// precise corruptions in tests.
type encoder struct{ bytes.Buffer }

func (e *encoder) uint(v uint64) {
	var b [9]byte
	n := 1
	for {
		b[n] = byte(v)
		v >>= 8
		if v == 0 {
			break
		}
		n++
	}
	b[0] = byte(n)
	e.Write(b[:n+1])
}

func (e *encoder) int(v int64) {
	neg := byte(0)
	if v < 0 {
		neg, v = 0x80, -v
	}
	l := e.Len()
	e.uint(uint64(v))
	e.Bytes()[l] |= neg
}

// float writes dlib's float_details of a float32: a 24-bit mantissa and
// exponent with trailing zero bytes shifted off.
func (e *encoder) float(v float32) {
	frac, exp := math.Frexp(float64(v))
	m := int64(frac * (1 << 24))
	x := int64(exp - 24)
	for i := 0; i < 8 && m&0xff == 0; i++ {
		m >>= 8
		x += 8
	}
	e.int(m)
	e.int(x)
}

func (e *encoder) column(vs []float32) {
	e.int(-int64(len(vs)))
	e.int(-1)
	for _, v := range vs {
		e.float(v)
	}
}

// tinyModel is a 2-point model with one cascade of one depth-1 tree that
// compares pixel 0 (above point 0) with pixel 1 (at point 1): the left
// leaf moves point 0 right by 0.25 box widths, the right leaf moves it down.
func tinyModel() []byte {
	var e encoder
	e.int(1)                                  // version
	e.column([]float32{0.25, 0.5, 0.75, 0.5}) // mean: (0.25,0.5), (0.75,0.5)
	e.uint(1)                                 // cascades
	e.uint(1)                                 // trees
	e.uint(1)                                 // splits
	e.uint(0)
	e.uint(1)
	e.float(10) // left if pixel0 - pixel1 > 10
	e.uint(2)   // leaves
	e.column([]float32{0.25, 0, 0, 0})
	e.column([]float32{0, 0.25, 0, 0})
	e.uint(1) // anchor_idx: cascades
	e.uint(2)
	e.uint(0)
	e.uint(1)
	e.uint(1) // deltas: cascades
	e.uint(2)
	e.float(0)
	e.float(-0.25)
	e.float(0)
	e.float(0)
	return e.Bytes()
}

func TestTinyModel(t *testing.T) {
	p, err := Read(bytes.NewReader(tinyModel()))
	if err != nil {
		t.Fatal(err)
	}
	if p.NumParts() != 2 {
		t.Fatalf("NumParts = %d, want 2", p.NumParts())
	}
	// Box [0,0]-[100,100]: pixel 0 sits at (25,25), pixel 1 at (75,50).
	box := face.Box{Right: 100, Bottom: 100}
	g := image.NewGray(image.Rect(0, 0, 101, 101))
	g.Pix[g.PixOffset(25, 25)] = 200
	g.Pix[g.PixOffset(75, 50)] = 189
	got := p.Predict(g, box)
	want := []face.Point{{X: 50, Y: 50}, {X: 75, Y: 50}} // 200-189 = 11 > 10: left leaf
	if got[0] != want[0] || got[1] != want[1] {
		t.Errorf("bright pixel: got %v, want %v", got, want)
	}
	g.Pix[g.PixOffset(75, 50)] = 190 // 10 is not > 10: right leaf
	got = p.Predict(g, box)
	want = []face.Point{{X: 25, Y: 75}, {X: 75, Y: 50}}
	if got[0] != want[0] || got[1] != want[1] {
		t.Errorf("threshold equal: got %v, want %v", got, want)
	}
	// Moving the box by 0.4 px moves pixel 0 to (25.4, 25.4), which still
	// rounds to (25,25); the points move with the box.
	got = p.Predict(g, face.Box{Left: 0.4, Top: 0.4, Right: 100.4, Bottom: 100.4})
	if math.Abs(got[0].X-25.4) > 1e-9 || math.Abs(got[0].Y-75.4) > 1e-9 {
		t.Errorf("shifted box: got %v, want (25.4, 75.4)", got[0])
	}
}

func modelBytes(t testing.TB, n int) []byte {
	t.Helper()
	path, err := assets.ShapePredictor()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n < 0 {
		b, err := io.ReadAll(f)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(f, b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pngBytes, err := os.ReadFile(testmedia.Path(t, "astronaut.png"))
	if err != nil {
		t.Fatal(err)
	}
	head := modelBytes(t, 64<<10)
	flipped := bytes.Clone(head)
	flipped[0] ^= 0xff
	badVersion := bytes.Clone(head)
	badVersion[1] = 2
	badColumns := bytes.Clone(head)
	badColumns[5] = 2 // initial shape is 136x-2

	for _, c := range []struct {
		name, path string
		want       []string
	}{
		{"missing", filepath.Join(dir, "nope.dat"), []string{": no such file or directory"}},
		{"empty", write("empty.dat", nil), []string{": header at byte 0: truncated"}},
		{"png", write("a.png", pngBytes), []string{": not a dlib shape predictor: header at byte 0: bad integer control byte 0x89"}},
		{"flipped first byte", write("flip.dat", flipped), []string{": not a dlib shape predictor"}},
		{"version 2", write("v2.dat", badVersion), []string{": not a dlib shape predictor: version 2, want 1"}},
		{"bad columns", write("cols.dat", badColumns), []string{": initial shape at byte 2: matrix is 136x2"}},
		{"truncated header", write("h1.dat", head[:1]), []string{": header at byte 1: truncated"}},
		{"truncated shape", write("h100.dat", head[:100]), []string{": initial shape at byte 100: truncated"}},
		{"truncated forest", write("h64k.dat", head), []string{": cascade 0 at byte 65536: truncated"}},
		{"a directory", dir, []string{": header at byte 0: read " + dir + ": is a directory"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := Load(c.path)
			if err == nil || p != nil {
				t.Fatalf("Load(%s) = %v, %v; want an error", c.name, p, err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "landmark: "+c.path+": ") {
				t.Errorf("error %q, want prefix %q", msg, "landmark: "+c.path+": ")
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q, want %q in it", msg, w)
				}
			}
			t.Log(msg)
		})
	}
}

func TestReadRejectsNonFinite(t *testing.T) {
	var e encoder
	e.int(1)
	e.int(-2)
	e.int(-1)
	e.float(0.5)
	e.int(0)
	e.int(32002) // NaN
	_, err := Read(bytes.NewReader(e.Bytes()))
	if err == nil || !strings.Contains(err.Error(), "non-finite value NaN") {
		t.Errorf("NaN in the mean shape: err = %v", err)
	}
}

// TestReadAbsurdCounts feeds counts that claim enormous models, backed by a
// few bytes of data: they must fail without allocating what they claim.
func TestReadAbsurdCounts(t *testing.T) {
	prefix := func() *encoder {
		var e encoder
		e.int(1)
		e.column([]float32{0.25, 0.5, 0.75, 0.5})
		return &e
	}
	cases := []struct {
		name string
		data func() []byte
		want string
	}{
		{"10^12 cascades", func() []byte { e := prefix(); e.uint(1e12); return e.Bytes() }, "count 1000000000000 exceeds the limit"},
		{"10^12 trees", func() []byte { e := prefix(); e.uint(1); e.uint(1e12); return e.Bytes() }, "count 1000000000000 exceeds the limit"},
		{"2^63 shape rows", func() []byte {
			var e encoder
			e.int(1)
			e.int(math.MaxInt64)
			e.int(1)
			return e.Bytes()
		}, "matrix is 9223372036854775807x1"},
		{"10^6 trees, no data", func() []byte { e := prefix(); e.uint(1); e.uint(1e6); return e.Bytes() }, "truncated"},
		{"65535 splits, no data", func() []byte { e := prefix(); e.uint(1); e.uint(1000); e.uint(65535); return e.Bytes() }, "truncated"},
		{"10^6 pixels, no data", func() []byte {
			e := prefix()
			e.uint(1) // one cascade
			e.uint(0) // without trees
			e.uint(1) // whose anchor list
			e.uint(1e6)
			return e.Bytes()
		}, "truncated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := c.data()
			var before, after runtime.MemStats
			for _, useLen := range []bool{true, false} {
				var r io.Reader = bytes.NewReader(data)
				if !useLen {
					r = struct{ io.Reader }{r} // size unknown
				}
				runtime.ReadMemStats(&before)
				_, err := Read(r)
				runtime.ReadMemStats(&after)
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("err = %v, want %q", err, c.want)
				}
				if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
					t.Errorf("size known %v: %d bytes allocated for %d bytes of input", useLen, alloc, len(data))
				}
			}
		})
	}
}

// TestLoadTruncatedEnd cuts the real model one byte short: the last delta
// of the last cascade is missing.
func TestLoadTruncatedEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the 100 MB model twice")
	}
	b := modelBytes(t, -1)
	_, err := Read(bytes.NewReader(b[:len(b)-1]))
	if err == nil || !strings.Contains(err.Error(), "deltas of cascade 14") || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("model minus its last byte: err = %v", err)
	}
	// Trailing bytes after the model are ignored, as dlib's deserialize
	// reads only what it needs.
	p, err := Read(bytes.NewReader(append(b, 0, 1, 2)))
	if err != nil || p.NumParts() != 68 {
		t.Errorf("model plus trailing bytes: %v", err)
	}
}

// FuzzRead throws corrupted models at the loader: it must return a model or
// an error, never panic, and a model it accepts must be usable.
func FuzzRead(f *testing.F) {
	f.Add(tinyModel())
	head := modelBytes(f, 4096)
	f.Add(head[:64])
	f.Add(head[:1024])
	for _, i := range []int{0, 1, 2, 3, 5, 7, 20} {
		b := bytes.Clone(head[:256])
		b[i] ^= 0x80
		f.Add(b)
	}
	tm := tinyModel()
	for _, i := range []int{10, 30, 40, len(tm) - 3} {
		b := bytes.Clone(tm)
		b[i] ^= 0x0f
		f.Add(b)
	}
	g := image.NewGray(image.Rect(0, 0, 32, 32))
	for i := range g.Pix {
		g.Pix[i] = uint8(i * 7)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Read(bytes.NewReader(data))
		if err != nil {
			if p != nil {
				t.Fatal("model and error")
			}
			if !strings.HasPrefix(err.Error(), "landmark: ") {
				t.Fatalf("error without package prefix: %v", err)
			}
			return
		}
		pts := p.Predict(g, face.Box{Left: 4, Top: 4, Right: 27, Bottom: 27})
		if len(pts) != p.NumParts() || len(p.MeanShape()) != p.NumParts() {
			t.Fatalf("%d points, %d parts", len(pts), p.NumParts())
		}
		p.BoxFromShape(pts)
	})
}
