package extract

import (
	"context"
	"image"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/facesynth/facesynth/internal/align"
	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/testmedia"
)

// TestVideo extracts the first 150 frames of a real talking-face clip: every
// frame has the one face, with a single track id, a crop on disk of the
// requested size, and a transform that puts the eyes where the canonical
// face has them.
func TestVideo(t *testing.T) {
	dir := t.TempDir()
	s, err := Run(context.Background(), testmedia.Path(t, "cap13_edit2.mp4"), dir, Options{Size: 128, Limit: 150, Smooth: true, Masks: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", s)
	if s.Frames != 150 {
		t.Errorf("frames = %d, want 150", s.Frames)
	}
	if s.NoFace > 3 || s.Tracks != 1 {
		t.Errorf("no-face frames %d (want ≤ 3), tracks %d (want 1)", s.NoFace, s.Tracks)
	}
	al, err := ReadAlignments(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if al.Width != 400 || al.Height != 300 || al.FPS != 25 || al.CropSize != 128 {
		t.Errorf("header %+v", al)
	}
	canon := align.Canonical()
	var worst float64
	for _, fr := range al.Frames {
		for _, f := range fr.Faces {
			if len(f.Landmarks) != face.NumLandmarks {
				t.Fatalf("frame %d: %d landmarks", fr.Index, len(f.Landmarks))
			}
			tr := align.Transform{A: f.Transform[0], B: f.Transform[1], C: f.Transform[2], D: f.Transform[3], E: f.Transform[4], F: f.Transform[5]}
			// Eye centres in crop pixels against the canonical eye centres.
			for _, eye := range [][2]int{{36, 42}, {42, 48}} {
				var got, want face.Point
				for i := eye[0]; i < eye[1]; i++ {
					p := tr.Apply(face.Point{X: f.Landmarks[i][0], Y: f.Landmarks[i][1]})
					got.X += p.X / 6
					got.Y += p.Y / 6
					want.X += canon[i].X * 128 / 6
					want.Y += canon[i].Y * 128 / 6
				}
				worst = math.Max(worst, math.Hypot(got.X-want.X, got.Y-want.Y))
			}
		}
	}
	t.Logf("worst eye-centre offset in the 128 px crops: %.2f px", worst)
	if worst > 6 {
		t.Errorf("eye centres %.1f px from canonical (want ≤ 6 px at 128 px)", worst)
	}
	last := al.Frames[len(al.Frames)-1].Faces[0].File
	img, err := media.LoadImage(filepath.Join(dir, last))
	if err != nil {
		t.Fatal(err)
	}
	if img.Rect.Dx() != 128 || img.Rect.Dy() != 128 {
		t.Errorf("crop %s is %v", last, img.Rect)
	}
	// The mask covers the face: between 25 % and 70 % of the crop, and
	// the nose tip (point 30) is inside.
	mask, err := media.LoadImage(filepath.Join(dir, "masks", filepath.Base(last)))
	if err != nil {
		t.Fatal(err)
	}
	var on int
	for i := 0; i < len(mask.Pix); i += 4 {
		if mask.Pix[i] > 127 {
			on++
		}
	}
	frac := float64(on) / (128 * 128)
	lf := al.Frames[len(al.Frames)-1].Faces[0]
	tr := align.Transform{A: lf.Transform[0], B: lf.Transform[1], C: lf.Transform[2], D: lf.Transform[3], E: lf.Transform[4], F: lf.Transform[5]}
	nose := tr.Apply(face.Point{X: lf.Landmarks[30][0], Y: lf.Landmarks[30][1]})
	t.Logf("mask covers %.0f %% of the crop", 100*frac)
	if frac < 0.25 || frac > 0.7 || mask.Pix[(int(nose.Y)*128+int(nose.X))*4] != 255 {
		t.Errorf("mask covers %.2f of the crop; nose at %v inside: %v", frac, nose, mask.Pix[(int(nose.Y)*128+int(nose.X))*4])
	}
}

// TestImages extracts the folder of reference frames and compares the
// landmarks with dlib's.
func TestImages(t *testing.T) {
	src := t.TempDir()
	for _, stem := range testmedia.ReferenceImages[2:] { // the franck frames
		b, err := os.ReadFile(testmedia.Path(t, stem+".png"))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(src, stem+".png"), b, 0o644)
	}
	dir := t.TempDir()
	s, err := Run(context.Background(), src, dir, Options{Size: 64, Format: "jpg"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Frames != 10 || s.Faces != 10 || s.NoFace != 0 {
		t.Fatalf("summary %s, want 10 frames with one face each", s)
	}
	al, _ := ReadAlignments(filepath.Join(dir, FileName))
	var sum float64
	for _, fr := range al.Frames {
		ref, err := face.ReadImageResult(testmedia.Reference(t, fr.Name[:len(fr.Name)-4]+".json"))
		if err != nil {
			t.Fatal(err)
		}
		want := face.FromJSON(ref.Faces[0]).Landmarks
		got := face.FromJSON(fr.Faces[0].FaceJSON).Landmarks
		var e float64
		for i := range want {
			e += math.Hypot(got[i].X-want[i].X, got[i].Y-want[i].Y)
		}
		e /= float64(len(want)) * face.EyeDistance(want)
		sum += e
	}
	t.Logf("mean landmark error vs dlib over 10 frames: %.2f %% of eye distance", 100*sum/10)
	if sum/10 > 0.05 {
		t.Errorf("mean landmark error %.1f %% of eye distance, want ≤ 5 %%", 100*sum/10)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	notMedia := filepath.Join(dir, "notes.txt")
	os.WriteFile(notMedia, []byte("hello, not a video\n"), 0o644)
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	for name, in := range map[string]string{
		"missing":   filepath.Join(dir, "nope.mp4"),
		"not media": notMedia,
		"no images": empty,
	} {
		if _, err := Run(context.Background(), in, filepath.Join(dir, "out-"+name), Options{}, nil); err == nil {
			t.Errorf("%s: no error", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	// An image without a face is not an error: the frame is counted.
	noFace := filepath.Join(dir, "gradient.png")
	g := image.NewRGBA(image.Rect(0, 0, 320, 240))
	for y := 0; y < 240; y++ {
		for x := 0; x < 320; x++ {
			g.Pix[y*g.Stride+x*4], g.Pix[y*g.Stride+x*4+1], g.Pix[y*g.Stride+x*4+2], g.Pix[y*g.Stride+x*4+3] = uint8(x*255/320), uint8(y), 128, 255
		}
	}
	if err := media.SaveImage(noFace, g); err != nil {
		t.Fatal(err)
	}
	s, err := Run(context.Background(), noFace, filepath.Join(dir, "out-gradient"), Options{}, nil)
	if err != nil {
		t.Fatalf("image without a face: %v", err)
	}
	if s.Frames != 1 || s.NoFace != 1 || s.Faces != 0 {
		t.Errorf("image without a face: %s", s)
	}
}
