package media

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"path/filepath"
	"testing"
	"time"

	"github.com/facesynth/facesynth/internal/testmedia"
)

func TestImagePNGRoundTripExact(t *testing.T) {
	src, err := LoadImage(testmedia.Path(t, "astronaut.png"))
	if err != nil {
		t.Fatal(err)
	}
	if src.Rect != image.Rect(0, 0, 512, 512) {
		t.Fatalf("astronaut.png is %v", src.Rect)
	}
	out := filepath.Join(t.TempDir(), "a.png")
	if err := SaveImage(out, src); err != nil {
		t.Fatal(err)
	}
	back, err := LoadImage(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(src.Pix, back.Pix) || src.Rect != back.Rect {
		t.Errorf("PNG round trip changed pixels by %.3f levels", meanAbsDiff(src, back))
	}
}

func TestImageJPEGRoundTripClose(t *testing.T) {
	src, err := LoadImage(testmedia.Path(t, "face_swapped.png"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"f.jpg", "f.JPEG"} {
		out := filepath.Join(dir, name)
		if err := SaveImage(out, src); err != nil {
			t.Fatal(err)
		}
		back, err := LoadImage(out)
		if err != nil {
			t.Fatal(err)
		}
		d := meanAbsDiff(src, back)
		t.Logf("%s: quality %d JPEG differs by %.3f levels", name, JPEGQuality, d)
		if back.Rect != src.Rect || d > 2 {
			t.Errorf("%s: %v, %.3f levels from the PNG; want %v and < 2", name, back.Rect, d, src.Rect)
		}
	}
}

// Images that are not RGBA (alpha, sub-image offsets) come back as RGBA
// at the origin.
func TestLoadConvertsToRGBAAtOrigin(t *testing.T) {
	n := image.NewNRGBA(image.Rect(0, 0, 4, 2))
	n.SetNRGBA(1, 1, color.NRGBA{200, 100, 50, 128})
	n.SetNRGBA(0, 0, color.NRGBA{10, 20, 30, 255})
	sub := n.SubImage(image.Rect(0, 0, 2, 2))
	out := filepath.Join(t.TempDir(), "n.png")
	if err := SaveImage(out, sub); err != nil {
		t.Fatal(err)
	}
	got, err := LoadImage(out)
	if err != nil {
		t.Fatal(err)
	}
	if got.Rect != image.Rect(0, 0, 2, 2) {
		t.Fatalf("bounds %v", got.Rect)
	}
	if c := got.RGBAAt(0, 0); c != (color.RGBA{10, 20, 30, 255}) {
		t.Errorf("opaque pixel %v", c)
	}
	if c := got.RGBAAt(1, 1); c != (color.RGBA{100, 50, 25, 128}) { // premultiplied
		t.Errorf("half-transparent pixel %v, want premultiplied {100 50 25 128}", c)
	}
}

// hugePNG is a valid PNG signature and IHDR claiming w×h pixels, with no
// image data after it.
func hugePNG(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func TestLoadImageRefusesHugeBeforeDecoding(t *testing.T) {
	path := writeFile(t, "huge.png", hugePNG(50000, 50000))
	start := time.Now()
	_, err := LoadImage(path)
	wantErr(t, err, ErrTooLarge)
	if d := time.Since(start); d > time.Second {
		t.Errorf("refusal took %v", d)
	}
	t.Log(err)
	// Just under the limit: the header passes, the missing data is damage.
	_, err = LoadImage(writeFile(t, "big.png", hugePNG(10000, 10000)))
	wantErr(t, err, ErrCorrupt)
}

func TestImageBadInputs(t *testing.T) {
	_, err := LoadImage(writeFile(t, "notes.png", []byte("not an image at all")))
	wantErr(t, err, ErrFormat)
	_, err = LoadImage(truncatedCopy(t, testmedia.Path(t, "astronaut.png"), 0.5))
	wantErr(t, err, ErrCorrupt)
	_, err = LoadImage(t.TempDir())
	wantErr(t, err, ErrNotMedia)

	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	dir := t.TempDir()
	wantErr(t, SaveImage(filepath.Join(dir, "a.bmp"), img), ErrFormat)
	wantErr(t, SaveImage(filepath.Join(dir, "a.png"), image.NewRGBA(image.Rectangle{})), ErrInvalid)
	wantErr(t, SaveImage(filepath.Join(dir, "a.png"), nil), ErrInvalid)
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Errorf("failed saves left %v", names)
	}
}

func TestFitVideo(t *testing.T) {
	src := image.NewRGBA(image.Rect(3, 5, 3+1001, 5+601))
	for i := range src.Pix {
		src.Pix[i] = uint8(i * 7)
	}
	for _, c := range []struct {
		max  int
		w, h int
	}{{0, 1000, 600}, {500, 500, 300}, {2000, 1000, 600}, {333, 332, 198}} {
		got := FitVideo(src, c.max)
		if got.Rect != image.Rect(0, 0, c.w, c.h) {
			t.Errorf("max %d: %v, want %dx%d at the origin", c.max, got.Rect, c.w, c.h)
		}
	}
	// Already even at the origin: the same image, no copy.
	even := image.NewRGBA(image.Rect(0, 0, 640, 480))
	if FitVideo(even, 0) != even {
		t.Error("an even image at the origin was copied")
	}
	// Trimming keeps the pixels where they were.
	got := FitVideo(src, 0)
	if got.RGBAAt(10, 20) != src.RGBAAt(13, 25) {
		t.Errorf("pixel moved: %v vs %v", got.RGBAAt(10, 20), src.RGBAAt(13, 25))
	}
}
