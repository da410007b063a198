package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"testing"

	"github.com/facesynth/facesynth/internal/testmedia"
)

func TestReadAllFramesCap13(t *testing.T) {
	path := testmedia.Path(t, "cap13_edit2.mp4")
	r, err := OpenVideo(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Info().Frames != 765 {
		t.Fatalf("probe says %d frames", r.Info().Frames)
	}
	img := r.NewFrame()
	n := 0
	for {
		err := r.Read(img)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n == 1 || n == 400 {
			// A real picture: opaque, mid-range brightness, and
			// contrast (not a flat or all-zero frame).
			var sum, sq float64
			for i := 0; i < len(img.Pix); i += 4 {
				if img.Pix[i+3] != 255 {
					t.Fatalf("frame %d: alpha %d at pixel %d", n-1, img.Pix[i+3], i/4)
				}
				v := float64(img.Pix[i]) + float64(img.Pix[i+1]) + float64(img.Pix[i+2])
				sum += v / 3
				sq += v * v / 9
			}
			px := float64(len(img.Pix) / 4)
			mean := sum / px
			std := math.Sqrt(sq/px - mean*mean)
			if mean < 30 || mean > 225 || std < 15 {
				t.Errorf("frame %d: mean %.1f, std %.1f: does not look like a picture", n-1, mean, std)
			}
		}
	}
	if n != 765 || r.FramesRead() != 765 {
		t.Errorf("read %d frames (FramesRead %d), probe counted 765", n, r.FramesRead())
	}
	if err := r.Read(img); err != io.EOF {
		t.Errorf("Read after the end: %v, want io.EOF again", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close after a clean end: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// The reader converts like scripts/fetch-media.sh, so its frames are the
// reference PNGs bit for bit.
func TestFramesMatchReferencePNGs(t *testing.T) {
	r, err := OpenVideo(context.Background(), testmedia.Path(t, "franck.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	img := r.NewFrame()
	for i := 0; i <= 500; i++ {
		if err := r.Read(img); err != nil {
			t.Fatal(err)
		}
		if i%500 != 0 {
			continue
		}
		ref, err := LoadImage(testmedia.Path(t, fmt.Sprintf("franck_f%04d.png", i)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ref.Pix, img.Pix) {
			t.Errorf("frame %d differs from franck_f%04d.png by %.3f levels on average", i, i, meanAbsDiff(ref, img))
		}
	}
}

// A destination that is a window into a larger image is filled the same.
func TestReadIntoSubImage(t *testing.T) {
	path := testmedia.Path(t, "cap13_edit2.mp4")
	want := firstFrame(t, path)
	r, err := OpenVideo(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	big := image.NewRGBA(image.Rect(0, 0, 500, 400))
	sub := big.SubImage(image.Rect(50, 60, 450, 360)).(*image.RGBA)
	if err := r.Read(sub); err != nil {
		t.Fatal(err)
	}
	if d := meanAbsDiff(want, sub); d != 0 {
		t.Errorf("sub-image frame differs by %.3f levels", d)
	}
	if big.Pix[0] != 0 || big.Pix[len(big.Pix)-1] != 0 {
		t.Error("Read wrote outside the sub-image")
	}
	wantErr(t, r.Read(image.NewRGBA(image.Rect(0, 0, 10, 10))), ErrInvalid)
}

func TestReaderStopEarlyAndCancel(t *testing.T) {
	path := testmedia.Path(t, "franck.mp4")
	r, err := OpenVideo(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	img := r.NewFrame()
	for range 5 {
		if err := r.Read(img); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close after reading 5 of 4800 frames: %v, want nil", err)
	}
	if err := r.Read(img); err == nil {
		t.Error("Read after Close succeeded")
	}

	ctx, cancel := context.WithCancel(context.Background())
	r, err = OpenVideo(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for range 3 {
		if err := r.Read(img); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	for range 4800 { // frames already in the pipe may still arrive
		if err = r.Read(img); err != nil {
			break
		}
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Read after cancel: %v, want context.Canceled", err)
	}
	if r.FramesRead() > 100 {
		t.Errorf("%d frames delivered after cancel", r.FramesRead())
	}
}
