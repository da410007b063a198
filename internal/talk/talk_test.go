package talk

import (
	"context"
	"errors"
	"github.com/facesynth/facesynth/internal/stats"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/facesynth/facesynth/internal/analyze"
	"github.com/facesynth/facesynth/internal/audio"
	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/mark"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/speech"
	"github.com/facesynth/facesynth/internal/testmedia"
)

// bestLag is the highest correlation of a with b shifted by up to maxLag
// frames either way.
func bestLag(a, b []float64, maxLag int) (r float64, lag int) {
	r = math.Inf(-1)
	for l := -maxLag; l <= maxLag; l++ {
		var x, y []float64
		for i := range a {
			if j := i + l; j >= 0 && j < len(b) {
				x, y = append(x, a[i]), append(y, b[j])
			}
		}
		if c := stats.Pearson(x, y); c > r {
			r, lag = c, l
		}
	}
	return r, lag
}

func readFrames(t *testing.T, path string) []*image.RGBA {
	t.Helper()
	fr, err := media.ReadFrames(context.Background(), path, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fr
}

// TestTalkAstronautJFK makes the astronaut say jfk.wav and measures the
// output the way a viewer would judge it, from landmarks found again on the
// decoded frames (not from the animator's own parameters).
func TestTalkAstronautJFK(t *testing.T) {
	if testing.Short() {
		t.Skip("renders and analyses 11 s of video")
	}
	ctx := context.Background()
	photo, wav := testmedia.Path(t, "astronaut.png"), testmedia.Path(t, "jfk.wav")
	out := filepath.Join(t.TempDir(), "talk.mp4")
	s, err := Run(ctx, photo, Speech{Audio: wav}, out, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", s)

	// Duration: the video lasts as long as the speech, within one frame.
	info, err := media.Probe(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	pcm, err := media.ReadAudio(ctx, wav, 16000)
	if err != nil {
		t.Fatal(err)
	}
	speechLen := float64(len(pcm)) / 16000
	videoLen := float64(info.Frames) / info.FPS
	if math.Abs(videoLen-speechLen) > 1/info.FPS || !info.HasAudio {
		t.Errorf("video %d frames = %.3f s, speech %.3f s, audio track %v", info.Frames, videoLen, speechLen, info.HasAudio)
	}

	an, err := analyze.Default()
	if err != nil {
		t.Fatal(err)
	}
	frames := readFrames(t, out)
	open := make([]float64, len(frames))
	ear := make([]float64, len(frames))
	for i, f := range frames {
		faces := an.Faces(f)
		if len(faces) != 1 {
			t.Fatalf("frame %d: %d faces found", i, len(faces))
		}
		open[i], ear[i] = face.MouthOpening(faces[0].Landmarks), face.EyeOpening(faces[0].Landmarks)
	}

	// Lip sync: the mouth opening follows the speech's loudness. The
	// envelope is in dB, floored 40 dB under its peak (quieter is silence
	// to a viewer).
	env := audio.Envelope(pcm, 16000, info.FPS, len(frames))
	peak := math.Inf(-1)
	for _, e := range env {
		peak = max(peak, e)
	}
	for i := range env {
		env[i] = max(env[i], peak-40)
	}
	r, lag := bestLag(open, env, 2)
	t.Logf("mouth opening vs speech envelope: r = %.2f at lag %d frames", r, lag)
	if r < 0.5 {
		t.Errorf("mouth opening correlates r = %.2f with the speech envelope, want ≥ 0.5", r)
	}
	// In silence (envelope 30 dB or more under its peak) the mouth rests
	// near closed; while speaking it opens.
	var silent, loud []float64
	for i := range open {
		switch {
		case env[i] < peak-30:
			silent = append(silent, open[i])
		case env[i] > peak-12:
			loud = append(loud, open[i])
		}
	}
	ms, ml := mean(silent), mean(loud)
	t.Logf("mouth opening: %.3f in %d silent frames, %.3f in %d loud ones (eye distances)", ms, len(silent), ml, len(loud))
	if len(silent) < 10 || ms > 0.05 || ml < 2*ms+0.03 {
		t.Errorf("mouth opening %.3f in silence, %.3f in speech", ms, ml)
	}

	// Blinks, seen on the output: runs of frames whose eye aspect ratio
	// falls under 60 % of its median.
	med := stats.Median(ear)
	var blinks, run int
	var lengths []int
	for i := range ear {
		if ear[i] < 0.6*med {
			run++
			continue
		}
		if run > 0 {
			blinks++
			lengths = append(lengths, run)
		}
		run = 0
	}
	rate := float64(blinks) / videoLen
	t.Logf("eye aspect median %.3f; %d blinks (%.2f/s), lengths %v frames", med, blinks, rate, lengths)
	if rate < 0.1 || rate > 0.7 {
		t.Errorf("blink rate %.2f/s, want a speaker's 0.1..0.7", rate)
	}
	for _, l := range lengths {
		if l > 10 {
			t.Errorf("a blink lasted %d frames (%.2f s)", l, float64(l)/info.FPS)
		}
	}

	// Identity: outside the region the animator may touch, the frames are
	// the photo, up to the watermark (40.5 dB, RMS 2.4 levels) and H.264
	// at CRF 18 (about 0.6 levels): mean |Δ| ≤ 3 levels.
	img, err := loadPhoto(photo, 1280)
	if err != nil {
		t.Fatal(err)
	}
	outside := meanOutside(img, frames, s.Region.Inset(-2))
	t.Logf("outside the animated region %v: mean |Δ| %.2f levels", s.Region, outside)
	if outside > 3 {
		t.Errorf("outside the animated region the frames differ from the photo by %.2f levels", outside)
	}
	det := mark.NewDetector()
	for _, f := range frames[:50] {
		det.Add(f)
	}
	if res := det.Result(); !res.Found || res.Payload != s.Payload {
		t.Errorf("watermark: %+v, want payload %v", res, s.Payload)
	}
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(max(len(v), 1))
}

func meanOutside(photo *image.RGBA, frames []*image.RGBA, region image.Rectangle) float64 {
	var sum, n float64
	for _, f := range frames {
		for y := 0; y < f.Rect.Dy(); y++ {
			for x := 0; x < f.Rect.Dx(); x++ {
				if (image.Point{x, y}).In(region) {
					continue
				}
				i := f.PixOffset(x, y)
				for c := 0; c < 3; c++ {
					sum += math.Abs(float64(f.Pix[i+c]) - float64(photo.Pix[i+c]))
				}
				n += 3
			}
		}
	}
	return sum / n
}

// TestTalkText speaks a sentence with espeak-ng: the video lasts as long
// as the synthesised speech and the mouth moves.
func TestTalkText(t *testing.T) {
	if testing.Short() {
		t.Skip("renders video")
	}
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "text.mp4")
	s, err := Run(ctx, testmedia.Path(t, "face_swapped.png"), Speech{Text: "Hello. This video was made by a machine."}, out, Options{Emotion: 1}, nil)
	if errors.Is(err, speech.ErrNoSynth) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", s)
	info, err := media.Probe(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if s.Mouth != SourceText || !info.HasAudio || math.Abs(float64(info.Frames)/info.FPS-s.Duration) > 1/info.FPS || s.Duration < 1.5 {
		t.Errorf("mouth from %s; %d frames at %.0f fps for %.2f s of speech; audio %v", s.Mouth, info.Frames, info.FPS, s.Duration, info.HasAudio)
	}
}

// TestBadInput: each fault gives one error and leaves no output behind.
func TestBadInput(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	photo, wav := testmedia.Path(t, "astronaut.png"), testmedia.Path(t, "jfk.wav")
	blank := filepath.Join(dir, "blank.png")
	g := image.NewRGBA(image.Rect(0, 0, 320, 240))
	for i := range g.Pix {
		g.Pix[i] = 180
	}
	g.Set(10, 10, color.RGBA{0, 0, 0, 255})
	if err := media.SaveImage(blank, g); err != nil {
		t.Fatal(err)
	}
	silent := filepath.Join(dir, "silent.wav")
	if err := media.WriteWAV(silent, make([]float32, 16000), 16000); err != nil {
		t.Fatal(err)
	}
	notAudio := filepath.Join(dir, "notes.wav")
	os.WriteFile(notAudio, []byte("not audio at all"), 0o644)
	out := filepath.Join(dir, "out.mp4")
	cases := []struct {
		name  string
		photo string
		sp    Speech
		want  error
	}{
		{"no face", blank, Speech{Audio: wav}, ErrNoFace},
		{"silent audio", photo, Speech{Audio: silent}, speech.ErrSilent},
		{"unreadable audio", photo, Speech{Audio: notAudio}, nil},
		{"missing photo", filepath.Join(dir, "nope.png"), Speech{Audio: wav}, nil},
		{"both audio and text", photo, Speech{Audio: wav, Text: "hi"}, nil},
		{"neither", photo, Speech{}, nil},
	}
	for _, c := range cases {
		_, err := Run(ctx, c.photo, c.sp, out, Options{}, nil)
		t.Logf("%s: %v", c.name, err)
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: left an output", c.name)
		}
	}
}
