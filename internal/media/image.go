package media

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	xdraw "golang.org/x/image/draw"

	"github.com/facesynth/facesynth/internal/fsutil"
)

// MaxImagePixels is the largest image LoadImage decodes. A PNG header can
// claim 50000×50000 in a few bytes; decoding it would allocate 10 GB.
const MaxImagePixels = 100_000_000

// JPEGQuality is the quality SaveImage writes JPEG files with.
const JPEGQuality = 95

// LoadImage decodes a PNG or JPEG (by content, not by extension) into
// RGBA. Images over MaxImagePixels are refused with ErrTooLarge from their
// header alone, before any pixel memory is allocated.
func LoadImage(path string) (*image.RGBA, error) {
	const op = "load image"
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, newError(op, path, fs.ErrNotExist, "")
		}
		return nil, newError(op, path, osErr(err), "")
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() == 0 {
		return nil, newError(op, path, ErrEmpty, "")
	} else if err == nil && st.IsDir() {
		return nil, newError(op, path, ErrNotMedia, "is a directory")
	}
	cfg, _, err := image.DecodeConfig(bufio.NewReader(f))
	if errors.Is(err, image.ErrFormat) {
		return nil, newError(op, path, ErrFormat, "not a PNG or JPEG image")
	}
	if err != nil {
		return nil, newError(op, path, ErrCorrupt, err.Error())
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > MaxImagePixels {
		return nil, newError(op, path, ErrTooLarge, fmt.Sprintf("%dx%d is %.0f megapixels, the limit is %d",
			cfg.Width, cfg.Height, float64(px)/1e6, MaxImagePixels/1_000_000))
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, newError(op, path, osErr(err), "")
	}
	img, _, err := image.Decode(bufio.NewReader(f))
	if err != nil {
		return nil, newError(op, path, ErrCorrupt, err.Error()) // the decoder names its format ("png: ...")
	}
	return toRGBA(img), nil
}

// toRGBA returns img as an *image.RGBA with bounds at the origin, without a
// copy when it already is one (8-bit RGB PNGs decode that way).
func toRGBA(img image.Image) *image.RGBA {
	b := img.Bounds()
	if m, ok := img.(*image.RGBA); ok && b.Min == (image.Point{}) {
		return m
	}
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	// draw has fast paths for the decoders' types (YCbCr, Gray, NRGBA).
	draw.Draw(dst, dst.Rect, img, b.Min, draw.Src)
	return dst
}

// SaveImage writes img as PNG (.png) or JPEG at JPEGQuality (.jpg, .jpeg),
// chosen by the extension, atomically.
func SaveImage(path string, img image.Image) error {
	return SaveImageMeta(path, img, nil)
}

// SaveImageMeta is SaveImage with text labels: PNG tEXt chunks (iTXt for
// non-ASCII text) right after the header, or JPEG COM segments right after
// the start marker, one per key (see ReadImageMeta). Keys are ASCII names;
// values UTF-8 text.
func SaveImageMeta(path string, img image.Image, meta map[string]string) error {
	const op = "save image"
	ext := strings.ToLower(filepath.Ext(path))
	if ext != ".png" && ext != ".jpg" && ext != ".jpeg" {
		return newError(op, path, ErrFormat, "name the file .png, .jpg or .jpeg")
	}
	if img == nil || img.Bounds().Empty() {
		return newError(op, path, ErrInvalid, "empty image")
	}
	if err := checkMeta(op, path, meta); err != nil {
		return err
	}
	f, err := fsutil.CreateTemp(path)
	if err != nil {
		return newError(op, path, osErr(err), "")
	}
	defer f.Abort() // no-op after Commit
	w := bufio.NewWriterSize(f, 1<<16)
	if ext == ".png" {
		// BestSpeed: face sets are thousands of crops; default compression
		// costs ~3x the time for ~15 % smaller files.
		var out io.Writer = w
		if len(meta) > 0 {
			out = &insertWriter{w: w, at: pngHeaderLen, extra: pngTextChunks(meta)}
		}
		err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(out, img)
	} else {
		var out io.Writer = w
		if len(meta) > 0 {
			out = &insertWriter{w: w, at: jpegHeaderLen, extra: jpegComments(meta)}
		}
		err = jpeg.Encode(out, img, &jpeg.Options{Quality: JPEGQuality})
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return newError(op, path, osErr(err), "")
	}
	if err := f.Commit(); err != nil {
		return newError(op, path, osErr(err), "")
	}
	return nil
}

// FitVideo prepares a still to become video frames: scaled down (Catmull-
// Rom, which filters while it shrinks) so that its longer side is at most
// maxSide pixels (0: no limit), then trimmed by a pixel where a side is odd,
// because H.264 in 4:2:0 needs even sides. The result starts at (0,0); img
// is returned unchanged when nothing needs doing.
func FitVideo(img *image.RGBA, maxSide int) *image.RGBA {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	if maxSide > 0 && max(w, h) > maxSide {
		s := float64(maxSide) / float64(max(w, h))
		w, h = max(2, int(float64(w)*s)), max(2, int(float64(h)*s))
		small := image.NewRGBA(image.Rect(0, 0, w, h))
		xdraw.CatmullRom.Scale(small, small.Rect, img, img.Rect, xdraw.Src, nil)
		img = small
	}
	if w%2 == 0 && h%2 == 0 && img.Rect.Min == (image.Point{}) {
		return img
	}
	even := image.NewRGBA(image.Rect(0, 0, w&^1, h&^1))
	draw.Draw(even, even.Rect, img, img.Rect.Min, draw.Src)
	return even
}
