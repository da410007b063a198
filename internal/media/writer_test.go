package media

import (
	"context"
	"errors"
	"image"
	"image/color"
	"io"
	"io/fs"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/facesynth/facesynth/internal/testmedia"
)

// Decode cap13_edit2.mp4, re-encode it at the default CRF 18 with jfk.wav
// as audio, and check what comes back.
func TestRoundTripCap13WithAudio(t *testing.T) {
	if testing.Short() {
		t.Skip("encodes 765 frames")
	}
	ctx := context.Background()
	src := testmedia.Path(t, "cap13_edit2.mp4")
	wav := testmedia.Path(t, "jfk.wav")
	out := filepath.Join(t.TempDir(), "round.mp4")

	r, err := OpenVideo(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	in := r.Info()
	w, err := CreateVideo(ctx, out, in.Width, in.Height, WriterOptions{FPS: in.FPS, Audio: wav})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	img := r.NewFrame()
	for {
		if err := r.Read(img); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(img); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	got, err := Probe(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if got.Frames != 765 || got.FPS != 25 || got.Width != 400 || got.Height != 300 || got.VideoCodec != "h264" {
		t.Errorf("output: %d frames at %v fps, %dx%d %s; want 765 at 25, 400x300 h264",
			got.Frames, got.FPS, got.Width, got.Height, got.VideoCodec)
	}
	if d := math.Abs(got.VideoDuration - in.VideoDuration); d > 1/in.FPS {
		t.Errorf("video lasts %.3f s, source %.3f s: off by more than a frame", got.VideoDuration, in.VideoDuration)
	}
	// AAC works in blocks of 1024 samples (64 ms at 16 kHz); the MP4 edit
	// list trims the padding, so 20 ms is a safe bound.
	if !got.HasAudio || got.AudioCodec != "aac" || math.Abs(got.AudioDuration-11) > 0.02 {
		t.Errorf("audio: present %v, codec %q, %.3f s; want aac lasting 11 s ±20 ms", got.HasAudio, got.AudioCodec, got.AudioDuration)
	}
	t.Logf("output: video %.3f s, audio %.3f s, container %.3f s", got.VideoDuration, got.AudioDuration, got.Duration)

	// Pixels: compare every frame with the source.
	a, err := OpenVideo(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := OpenVideo(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	fa, fb := a.NewFrame(), b.NewFrame()
	var sum, worst float64
	n := 0
	for {
		ea, eb := a.Read(fa), b.Read(fb)
		if ea == io.EOF && eb == io.EOF {
			break
		}
		if ea != nil || eb != nil {
			t.Fatalf("frame %d: source %v, output %v", n, ea, eb)
		}
		d := meanAbsDiff(fa, fb)
		sum += d
		worst = max(worst, d)
		n++
	}
	mean := sum / float64(n)
	t.Logf("mean abs difference %.3f levels (worst frame %.3f) over %d frames", mean, worst, n)
	// Measured 0.57 (worst 0.89) with ffmpeg 5.1 / x264 164.
	if mean > 1.5 || worst > 2.5 {
		t.Errorf("re-encoded frames differ by %.3f levels on average (worst frame %.3f); want < 1.5 (< 2.5)", mean, worst)
	}
}

// gradient is a test frame whose every pixel differs from its neighbours.
func gradient(w, h, shift int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(2*x + shift), uint8(3 * y), uint8(x + y), 255})
		}
	}
	return img
}

func TestWriterOddSize(t *testing.T) {
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "odd.mp4")
	w, err := CreateVideo(ctx, out, 101, 75, WriterOptions{FPS: 30000.0 / 1001, Preset: "ultrafast"})
	if err != nil {
		t.Fatal(err)
	}
	src := gradient(101, 75, 0)
	for i := range 10 {
		// Alternate the fast path's neighbour: a non-RGBA image.
		var img image.Image = src
		if i%2 == 1 {
			n := image.NewNRGBA(src.Rect)
			copy(n.Pix, src.Pix)
			img = n
		}
		if err := w.Write(img); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	info, err := Probe(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if info.Width != 102 || info.Height != 76 || info.Frames != 10 || math.Abs(info.FPS-29.97003) > 1e-4 {
		t.Fatalf("output %dx%d, %d frames at %v fps; want 102x76, 10 at 29.97", info.Width, info.Height, info.Frames, info.FPS)
	}
	got := firstFrame(t, out)
	inner := got.SubImage(image.Rect(0, 0, 101, 75)).(*image.RGBA)
	if d := meanAbsDiff(src, inner); d > 3 {
		t.Errorf("odd-size frame differs by %.2f levels", d)
	}
	// The padding repeats the last column and row, so it matches them.
	lastCol := got.SubImage(image.Rect(100, 0, 101, 75)).(*image.RGBA)
	padCol := got.SubImage(image.Rect(101, 0, 102, 75)).(*image.RGBA)
	lastRow := got.SubImage(image.Rect(0, 74, 101, 75)).(*image.RGBA)
	padRow := got.SubImage(image.Rect(0, 75, 101, 76)).(*image.RGBA)
	if d, e := meanAbsDiff(lastCol, padCol), meanAbsDiff(lastRow, padRow); d > 4 || e > 4 {
		t.Errorf("padding differs from the edge it repeats: column %.2f, row %.2f levels", d, e)
	}
}

func TestWriterAbortLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	w, err := CreateVideo(context.Background(), filepath.Join(dir, "a.mp4"), 64, 48, WriterOptions{FPS: 25, Preset: "ultrafast"})
	if err != nil {
		t.Fatal(err)
	}
	img := gradient(64, 48, 0)
	for range 20 {
		if err := w.Write(img); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Errorf("after Abort the directory holds %v", names)
	}
	if err := w.Close(); err == nil {
		t.Error("Close after Abort succeeded")
	}
	if err := w.Write(img); err == nil {
		t.Error("Write after Abort succeeded")
	}
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Errorf("after Close the directory holds %v", names)
	}
}

// Cancelling the context cleans up even if the caller never calls Close.
func TestWriterCancelLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := CreateVideo(ctx, filepath.Join(dir, "c.mp4"), 64, 48, WriterOptions{FPS: 25, Preset: "ultrafast"})
	if err != nil {
		t.Fatal(err)
	}
	img := gradient(64, 48, 0)
	for range 20 {
		if err := w.Write(img); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for len(dirEntries(t, dir)) != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Fatalf("5 s after cancel the directory holds %v", names)
	}
	if err := w.Write(img); !errors.Is(err, context.Canceled) {
		t.Errorf("Write after cancel: %v, want context.Canceled", err)
	}
	if err := w.Close(); !errors.Is(err, context.Canceled) {
		t.Errorf("Close after cancel: %v, want context.Canceled", err)
	}
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Errorf("the directory holds %v", names)
	}
}

func TestWriterBadArguments(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	mp4 := filepath.Join(dir, "x.mp4")
	for _, c := range []struct {
		path string
		w, h int
		opts WriterOptions
		kind error
	}{
		{filepath.Join(dir, "x.avi"), 64, 64, WriterOptions{FPS: 25}, ErrFormat},
		{mp4, 0, 64, WriterOptions{FPS: 25}, ErrInvalid},
		{mp4, 64, 64, WriterOptions{}, ErrInvalid},
		{mp4, 64, 64, WriterOptions{FPS: math.NaN()}, ErrInvalid},
		{mp4, 64, 64, WriterOptions{FPS: 25, CRF: 60}, ErrInvalid},
		{mp4, 64, 64, WriterOptions{FPS: 25, Preset: "quick"}, ErrInvalid},
		{filepath.Join(dir, "missing", "x.mp4"), 64, 64, WriterOptions{FPS: 25}, fs.ErrNotExist},
	} {
		_, err := CreateVideo(ctx, c.path, c.w, c.h, c.opts)
		wantErr(t, err, c.kind)
	}

	w, err := CreateVideo(ctx, mp4, 64, 48, WriterOptions{FPS: 25, Preset: "ultrafast"})
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, w.Write(gradient(48, 64, 0)), ErrInvalid)
	wantErr(t, w.Write(nil), ErrInvalid)
	wantErr(t, w.Close(), ErrInvalid) // no frames
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Errorf("the directory holds %v", names)
	}
}
