package swapjob

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/facesynth/facesynth/internal/extract"
	"github.com/facesynth/facesynth/internal/swap"
	"github.com/facesynth/facesynth/internal/testmedia"
)

func TestPresets(t *testing.T) {
	for name, p := range Presets {
		if _, err := swap.ArchByName(p.Arch); err != nil || p.Train <= 0 || p.Faces <= 0 {
			t.Errorf("preset %s: %+v, %v", name, p, err)
		}
	}
	if Presets["draft"].Train != 3*time.Minute || Presets["full"].Arch != "original" {
		t.Errorf("presets changed: %+v", Presets)
	}
}

// Bad input stops Run with one clear error before anything is written.
func TestRunErrors(t *testing.T) {
	light, err := swap.ArchByName("light")
	if err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(t.TempDir(), "work")
	video := testmedia.Path(t, "cap13_edit2.mp4")
	ctx := context.Background()
	if _, err := Run(ctx, video, video, "out.mp4", work, Options{}); err == nil || !strings.HasPrefix(err.Error(), "swapjob: ") {
		t.Errorf("no architecture: %v", err)
	}
	if _, err := Run(ctx, video, video, "out.mp4", "", Options{Arch: light}); err == nil || !strings.HasPrefix(err.Error(), "swapjob: ") {
		t.Errorf("no work folder: %v", err)
	}
	_, err = Run(ctx, video, filepath.Join(t.TempDir(), "missing.mp4"), "out.mp4", work, Options{Arch: light, Faces: 4})
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "media: ") {
		t.Errorf("missing target: %v", err)
	}
	if _, err := os.Stat(work); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed run created the work folder: %v", err)
	}
	// A damaged checkpoint is reported, not trained over.
	for _, d := range []string{TargetDir(work), SourceDir(work), ModelDir(work)} {
		os.MkdirAll(d, 0o755)
	}
	for _, d := range []string{TargetDir(work), SourceDir(work)} {
		os.WriteFile(filepath.Join(d, extract.FileName), []byte("{}"), 0o644)
	}
	os.WriteFile(filepath.Join(ModelDir(work), swap.StateFile), []byte("not json"), 0o644)
	var log strings.Builder
	_, err = Run(ctx, video, video, "out.mp4", work, Options{Arch: light, Log: &log})
	if err == nil || !strings.Contains(err.Error(), "not a facesynth swap checkpoint") {
		t.Errorf("damaged checkpoint: %v", err)
	}
	if !strings.Contains(log.String(), "swap: reusing "+TargetDir(work)) {
		t.Errorf("log %q: want the reused face sets named", log.String())
	}
}
