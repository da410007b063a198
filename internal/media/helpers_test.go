package media

import (
	"context"
	"errors"
	"image"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// wantErr checks that err is of the given kind and reads as one
// package-prefixed line.
func wantErr(t *testing.T, err, kind error) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", kind)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("error %q is not %v", err, kind)
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\r\n") {
		t.Errorf("error is not one line: %q", msg)
	}
	if !strings.HasPrefix(msg, "media: ") {
		t.Errorf("error lacks the package prefix: %q", msg)
	}
}

// writeFile writes a small file into a fresh temporary directory.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// truncatedCopy copies the first frac of a file into a temporary file.
func truncatedCopy(t *testing.T, src string, frac float64) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "trunc_"+filepath.Base(src), b[:int(float64(len(b))*frac)])
}

// dirEntries lists a directory, hidden files included.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// readAll decodes every frame of a video.
func readAll(t *testing.T, path string) []*image.RGBA {
	t.Helper()
	r, err := OpenVideo(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var frames []*image.RGBA
	for {
		f := r.NewFrame()
		err := r.Read(f)
		if err != nil {
			if err == io.EOF {
				return frames
			}
			t.Fatal(err)
		}
		frames = append(frames, f)
	}
}

// meanAbsDiff is the mean absolute difference of the R, G and B channels
// of two equally sized RGBA images, in 0..255 levels.
func meanAbsDiff(a, b *image.RGBA) float64 {
	var sum, n float64
	w, h := a.Rect.Dx(), a.Rect.Dy()
	for y := range h {
		ra := a.Pix[a.PixOffset(a.Rect.Min.X, a.Rect.Min.Y+y):]
		rb := b.Pix[b.PixOffset(b.Rect.Min.X, b.Rect.Min.Y+y):]
		for x := range w {
			for c := range 3 {
				d := float64(ra[4*x+c]) - float64(rb[4*x+c])
				if d < 0 {
					d = -d
				}
				sum += d
				n++
			}
		}
	}
	return sum / n
}

// firstFrame decodes the first frame of a video.
func firstFrame(t *testing.T, path string) *image.RGBA {
	t.Helper()
	r, err := OpenVideo(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f := r.NewFrame()
	if err := r.Read(f); err != nil {
		t.Fatal(err)
	}
	return f
}
