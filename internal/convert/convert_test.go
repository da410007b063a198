package convert

import (
	"context"
	"image"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/facesynth/facesynth/internal/align"
	"github.com/facesynth/facesynth/internal/analyze"
	"github.com/facesynth/facesynth/internal/blend"
	"github.com/facesynth/facesynth/internal/extract"
	"github.com/facesynth/facesynth/internal/mark"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/swap"
	"github.com/facesynth/facesynth/internal/testmedia"
)

var (
	modelOnce sync.Once
	modelDir  string
	modelErr  error
)

// testModel trains a light model for a few steps on real faces (franck as
// B, cap13 as A). Its faces are poor; the tests here check the conversion
// machinery (frames, audio, where pixels change, seams, flicker), not the
// model's quality, which internal/swap's tests measure.
func testModel(t *testing.T) *swap.Model {
	t.Helper()
	modelOnce.Do(func() {
		dir, err := os.MkdirTemp("", "facesynth-convert-test-")
		if err != nil {
			modelErr = err
			return
		}
		ctx := context.Background()
		a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
		if _, modelErr = extract.Run(ctx, testmedia.Path(t, "cap13_edit2.mp4"), a, extract.Options{Size: 128, Stride: 25}, nil); modelErr != nil {
			return
		}
		if _, modelErr = extract.Run(ctx, testmedia.Path(t, "franck.mp4"), b, extract.Options{Size: 128, Stride: 160}, nil); modelErr != nil {
			return
		}
		modelDir = filepath.Join(dir, "model")
		arch, _ := swap.ArchByName("light")
		_, modelErr = swap.Train(ctx, a, b, modelDir, swap.Options{Arch: arch, Steps: 20, SaveEvery: 20, PreviewEvery: 20})
	})
	if modelErr != nil {
		t.Fatal(modelErr)
	}
	m, err := swap.Load(modelDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

func ffmpeg(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("ffmpeg", append([]string{"-nostdin", "-loglevel", "error", "-y"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
	}
}

func frames(t *testing.T, path string) []*image.RGBA {
	t.Helper()
	fr, err := media.ReadFrames(context.Background(), path, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fr
}

// TestConvert converts 3 s of a real talking-face clip with speech muxed in
// and checks what a user sees: the target's frame count, rate and audio;
// pixels changed inside the face and untouched outside it; no visible seam;
// no more flicker in the face region than the target itself has; and the
// watermark.
func TestConvert(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	m := testModel(t)
	dir := t.TempDir()
	target := filepath.Join(dir, "target.mp4")
	ffmpeg(t, "-i", testmedia.Path(t, "cap13_edit2.mp4"), "-i", testmedia.Path(t, "jfk.wav"),
		"-frames:v", "75", "-c:v", "libx264", "-crf", "16", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", target)
	out := filepath.Join(dir, "out.mp4")
	// Default options. A model trained for 20 steps has not learned its
	// mask yet (it sits near 0.5 everywhere), so the default mask must fall
	// back to the hull and replace the whole face region.
	s, err := Run(context.Background(), m, target, out, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", s)
	ti, _ := media.Probe(context.Background(), target)
	oi, err := media.Probe(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	if oi.Frames != ti.Frames || oi.FPS != ti.FPS || !oi.HasAudio || math.Abs(oi.AudioDuration-ti.AudioDuration) > 0.05 {
		t.Errorf("output %d frames %.2f fps audio %v %.2f s; target %d frames %.2f fps audio %.2f s",
			oi.Frames, oi.FPS, oi.HasAudio, oi.AudioDuration, ti.Frames, ti.FPS, ti.AudioDuration)
	}
	if s.NoFace != 0 || s.Swapped != ti.Frames {
		t.Errorf("swapped %d faces, %d frames without a face; want one face on each of %d frames", s.Swapped, s.NoFace, ti.Frames)
	}

	// Where the pixels changed. The region is the landmark hull of the
	// target's face (found again here), grown by 12 px for the feather;
	// outside it only the codec and the watermark may differ: the mark is
	// set to 40.5 dB PSNR (RMS 2.4 levels) and x264 at CRF 18 adds about
	// 0.6 levels mean, so the mean outside stays ≤ 3 levels.
	an, err := analyze.Default()
	if err != nil {
		t.Fatal(err)
	}
	tf, of := frames(t, target), frames(t, out)
	var inside, outside, seamOut, seamIn, flickOut, flickIn float64
	var n, nf float64
	var prevMask *image.Gray
	for i := range tf {
		faces := an.Faces(tf[i])
		if len(faces) != 1 {
			t.Fatalf("frame %d: %d faces in the target", i, len(faces))
		}
		w, h := tf[i].Rect.Dx(), tf[i].Rect.Dy()
		hull := align.HullMask(faces[0].Landmarks, w, h)
		grown := align.HullMask(faces[0].Landmarks, w, h, align.Dilate(12))
		var din, dout, cin, cout float64
		for p := range hull.Pix {
			d := 0.0
			for c := 0; c < 3; c++ {
				d += math.Abs(float64(tf[i].Pix[4*p+c]) - float64(of[i].Pix[4*p+c]))
			}
			switch {
			case hull.Pix[p] == 255:
				din += d / 3
				cin++
			case grown.Pix[p] == 0:
				dout += d / 3
				cout++
			}
		}
		inside += din / cin
		outside += dout / cout
		so, _ := blend.SeamDifference(of[i], hull)
		si, _ := blend.SeamDifference(tf[i], hull)
		seamOut += so
		seamIn += si
		n++
		if prevMask != nil {
			fo, _ := blend.RegionFlicker(of[i-1], of[i], hull)
			fi, _ := blend.RegionFlicker(tf[i-1], tf[i], hull)
			flickOut += fo
			flickIn += fi
			nf++
		}
		prevMask = hull
	}
	inside, outside, seamOut, seamIn, flickOut, flickIn = inside/n, outside/n, seamOut/n, seamIn/n, flickOut/nf, flickIn/nf
	t.Logf("mean |out−target|: inside the face %.1f levels, outside %.2f levels", inside, outside)
	t.Logf("seam across the face border: output %.1f, target %.1f levels", seamOut, seamIn)
	t.Logf("face-region flicker: output %.2f, target %.2f levels/frame", flickOut, flickIn)
	if inside < 8 {
		t.Errorf("face barely changed: %.1f levels", inside)
	}
	if outside > 3 {
		t.Errorf("outside the face changed by %.2f levels (bound 3)", outside)
	}
	// The frame's own structure crosses the border (hairline, cheek
	// shading), so the target scores well above 0; a visible seam adds to
	// it. Bound: 1.5× the target's own.
	if seamOut > 1.5*seamIn {
		t.Errorf("seam %.1f levels vs target's %.1f", seamOut, seamIn)
	}
	if flickOut > 2*flickIn+1 {
		t.Errorf("face flickers %.2f levels/frame vs target's %.2f", flickOut, flickIn)
	}
	res := mark.NewDetector()
	for _, f := range of[:50] {
		res.Add(f)
	}
	if r := res.Result(); !r.Found || r.Payload != s.Payload {
		t.Errorf("watermark: found %v payload %v (want %v), z %.1f", r.Found, r.Payload, s.Payload, r.Confidence)
	}
	if d := os.Getenv("FACESYNTH_CONVERT_SNAPSHOTS"); d != "" {
		media.SaveImage(filepath.Join(d, "before.png"), tf[40])
		media.SaveImage(filepath.Join(d, "after.png"), of[40])
	}
}

// TestNoFaceAndFaceLeaving: a video without faces passes through; a face
// sliding out of the picture converts without error.
func TestNoFaceAndFaceLeaving(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	m := testModel(t)
	dir := t.TempDir()
	noFace := filepath.Join(dir, "noface.mp4")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1", "-pix_fmt", "yuv420p", noFace)
	s, err := Run(context.Background(), m, noFace, filepath.Join(dir, "o1.mp4"), Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Frames != 25 || s.NoFace != 25 || s.Swapped != 0 {
		t.Errorf("no-face video: %s", s)
	}
	leaving := filepath.Join(dir, "leaving.mp4")
	// A 200 px window slides from the face to beyond it, so the face leaves
	// through the left edge.
	ffmpeg(t, "-i", testmedia.Path(t, "cap13_edit2.mp4"), "-frames:v", "50", "-vf", "crop=200:300:x='min(200\\,t*110)':y=0",
		"-pix_fmt", "yuv420p", leaving)
	s, err = Run(context.Background(), m, leaving, filepath.Join(dir, "o2.mp4"), Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("face leaving: %s", s)
	if s.Frames != 50 || s.Swapped == 0 || s.NoFace == 0 {
		t.Errorf("face leaving: %s (want some frames swapped, some without a face)", s)
	}
}

// TestCancel: an interrupted conversion leaves nothing under the output name.
func TestCancel(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	m := testModel(t)
	out := filepath.Join(t.TempDir(), "out.mp4")
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	_, err := Run(ctx, m, testmedia.Path(t, "franck.mp4"), out, Options{}, nil)
	if err == nil {
		t.Fatal("a cancelled conversion returned no error")
	}
	ents, _ := os.ReadDir(filepath.Dir(out))
	if len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}
