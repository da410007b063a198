package verify

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/facesynth/facesynth/internal/mark"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/testmedia"
)

// A still marked and labelled here is found, with its payload; the
// original is not.
func TestFileImage(t *testing.T) {
	src := testmedia.Path(t, "face_swapped.png")
	img, err := media.LoadImage(src)
	if err != nil {
		t.Fatal(err)
	}
	p := mark.NewPayload()
	p.ContentID = 0x5eed1234
	mark.NewEmbedder(p).Embed(img)
	marked := filepath.Join(t.TempDir(), "marked.png")
	if err := media.SaveImageMeta(marked, img, mark.Labels(p, "test")); err != nil {
		t.Fatal(err)
	}
	rep, err := File(context.Background(), marked, 0)
	if err != nil {
		t.Fatal(err)
	}
	wm := rep.Watermark
	if rep.Kind != "image" || !wm.Found || !wm.PayloadValid || wm.ContentID != "5eed1234" || !rep.Synthetic || wm.Confidence < wm.Threshold {
		t.Errorf("marked still: %+v", rep)
	}
	rep, err = File(context.Background(), src, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Watermark.Found || rep.Synthetic || len(rep.Labels) != 0 || rep.Watermark.Confidence >= rep.Watermark.Threshold {
		t.Errorf("original still: %+v", rep)
	}
}

func TestFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := File(context.Background(), filepath.Join(dir, "missing.mp4"), 0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	// Audio has no frames to hold a watermark.
	if _, err := File(context.Background(), testmedia.Path(t, "jfk.wav"), 0); err == nil {
		t.Error("audio file: no error")
	}
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("not media"), 0o644)
	if _, err := File(context.Background(), text, 0); err == nil {
		t.Error("text file: no error")
	}
}

func TestIsImage(t *testing.T) {
	for name, want := range map[string]bool{"astronaut.png": true, "jfk.wav": false, "cap13_edit2.mp4": false} {
		if got := IsImage(testmedia.Path(t, name)); got != want {
			t.Errorf("IsImage(%s) = %v", name, got)
		}
	}
	if IsImage("/no/such/file.png") {
		t.Error("a missing file is an image")
	}
}
