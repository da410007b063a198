package mark

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"io"
	"math"
	"os/exec"
	"testing"

	"github.com/facesynth/facesynth/internal/media"
)

// psnr compares the RGB channels of two images of one size.
func psnr(a, b *image.RGBA) float64 {
	var se float64
	n := 0
	for i := range a.Pix {
		if i%4 == 3 {
			continue
		}
		d := float64(a.Pix[i]) - float64(b.Pix[i])
		se += d * d
		n++
	}
	if se == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(se/float64(n)))
}

func cloneRGBA(m *image.RGBA) *image.RGBA {
	c := image.NewRGBA(m.Rect)
	copy(c.Pix, m.Pix)
	return c
}

// readClip decodes n frames of a video from start seconds (ffmpeg seeks
// accurately, so no frame before start is decoded into the result).
func readClip(t testing.TB, path string, start float64, n int) []*image.RGBA {
	t.Helper()
	info, err := media.Probe(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ffmpeg", "-nostdin", "-loglevel", "error", "-ss", fmt.Sprint(start), "-i", path,
		"-frames:v", fmt.Sprint(n), "-f", "rawvideo", "-pix_fmt", "rgba", "pipe:1")
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	w, h := info.Width, info.Height
	var frames []*image.RGBA
	for {
		m := image.NewRGBA(image.Rect(0, 0, w, h))
		if _, err := io.ReadFull(&out, m.Pix); err != nil {
			break
		}
		frames = append(frames, m)
	}
	if len(frames) != n {
		t.Fatalf("%s at %.1fs: %d frames, want %d", path, start, len(frames), n)
	}
	return frames
}
