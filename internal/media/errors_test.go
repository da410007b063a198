package media

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/facesynth/facesynth/internal/testmedia"
)

func TestMissingFile(t *testing.T) {
	ctx := context.Background()
	missing := filepath.Join(t.TempDir(), "nope.mp4")
	_, err := Probe(ctx, missing)
	wantErr(t, err, fs.ErrNotExist)
	_, err = OpenVideo(ctx, missing)
	wantErr(t, err, fs.ErrNotExist)
	_, err = LoadImage(missing)
	wantErr(t, err, fs.ErrNotExist)
	wantErr(t, ExtractAudio(ctx, missing, filepath.Join(t.TempDir(), "a.wav"), 0), fs.ErrNotExist)
	if !strings.Contains(err.Error(), missing) {
		t.Errorf("error does not name the file: %q", err)
	}
}

func TestNotMedia(t *testing.T) {
	ctx := context.Background()
	random := make([]byte, 64<<10)
	rand.Read(random)
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"notes.txt", []byte("hello, this is a text file\nwith two lines\n")},
		{"notes.mp4", []byte("a text file named like a video\n")}, // ffmpeg guesses the MP4 demuxer from the name
		{"noise.bin", random},
	} {
		path := writeFile(t, c.name, c.data)
		start := time.Now()
		_, err := Probe(ctx, path)
		wantErr(t, err, ErrNotMedia)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: Probe took %v to fail", c.name, d)
		}
		_, err = OpenVideo(ctx, path)
		wantErr(t, err, ErrNotMedia)
		t.Logf("%s: %v", c.name, err)
	}
	_, err := Probe(ctx, t.TempDir())
	wantErr(t, err, ErrNotMedia)

	// A FIFO would make ffprobe wait for a writer forever.
	fifo := filepath.Join(t.TempDir(), "pipe.mp4")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Probe(ctx, fifo)
	wantErr(t, err, ErrNotMedia)
}

func TestEmptyFile(t *testing.T) {
	path := writeFile(t, "empty.mp4", nil)
	_, err := Probe(context.Background(), path)
	wantErr(t, err, ErrEmpty)
	_, err = OpenVideo(context.Background(), path)
	wantErr(t, err, ErrEmpty)
	_, err = LoadImage(writeFile(t, "empty.png", nil))
	wantErr(t, err, ErrEmpty)
}

// franck.mp4 keeps its index (moov) at the end, so a copy cut at 30% has
// no index: it fails at open, with ffmpeg's reason.
func TestTruncatedIndexFailsAtOpen(t *testing.T) {
	path := truncatedCopy(t, testmedia.Path(t, "franck.mp4"), 0.3)
	_, err := OpenVideo(context.Background(), path)
	wantErr(t, err, ErrCorrupt)
	if !strings.Contains(err.Error(), "moov atom not found") {
		t.Errorf("error lacks ffmpeg's reason: %q", err)
	}
	t.Log(err)
}

// cap13_edit2.mp4 has its index first (faststart), so a copy cut at 30%
// opens, yields the frames before the cut, then fails.
func TestTruncatedDataFailsAfterFrames(t *testing.T) {
	path := truncatedCopy(t, testmedia.Path(t, "cap13_edit2.mp4"), 0.3)
	r, err := OpenVideo(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	img := r.NewFrame()
	for {
		if err = r.Read(img); err != nil {
			break
		}
	}
	wantErr(t, err, ErrCorrupt)
	if errors.Is(err, io.EOF) {
		t.Error("damage reported as a clean end")
	}
	// About 30% of the data: 215 of 765 frames with ffmpeg 5.1.
	if n := r.FramesRead(); n < 150 || n > 300 {
		t.Errorf("decoded %d frames before the cut, want about 215", n)
	}
	if !strings.Contains(err.Error(), "of 765 frames") {
		t.Errorf("error does not say how many frames arrived: %q", err)
	}
	if cerr := r.Close(); !errors.Is(cerr, ErrCorrupt) {
		t.Errorf("Close: %v, want the ErrCorrupt again", cerr)
	}
	t.Log(err)
}

func TestNoVideoNoAudio(t *testing.T) {
	ctx := context.Background()
	wav := testmedia.Path(t, "jfk.wav")
	franck := testmedia.Path(t, "franck.mp4")
	dir := t.TempDir()

	_, err := OpenVideo(ctx, wav)
	wantErr(t, err, ErrNoVideo)
	wantErr(t, Mux(ctx, wav, wav, filepath.Join(dir, "m.mp4")), ErrNoVideo)

	wantErr(t, ExtractAudio(ctx, franck, filepath.Join(dir, "a.wav"), 16000), ErrNoAudio)
	_, err = ReadAudio(ctx, franck, 16000)
	wantErr(t, err, ErrNoAudio)
	wantErr(t, Mux(ctx, franck, franck, filepath.Join(dir, "m.mp4")), ErrNoAudio)
	_, err = CreateVideo(ctx, filepath.Join(dir, "v.mp4"), 64, 64, WriterOptions{FPS: 25, Audio: franck})
	wantErr(t, err, ErrNoAudio)
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Errorf("failed calls left %v", names)
	}
}

func TestNoFFmpeg(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	ctx := context.Background()
	_, err := CreateVideo(ctx, filepath.Join(t.TempDir(), "x.mp4"), 64, 64, WriterOptions{FPS: 25})
	wantErr(t, err, ErrNoFFmpeg)
	if err.Error() != "media: ffmpeg not found in PATH (install Debian package ffmpeg)" {
		t.Errorf("message %q", err)
	}
	_, err = Probe(ctx, testmedia.Path(t, "franck.mp4"))
	wantErr(t, err, ErrNoFFmpeg)
	if !strings.Contains(err.Error(), "ffprobe") {
		t.Errorf("missing ffprobe reported as %q", err)
	}
}
