package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facesynth/facesynth/internal/testmedia"
	"github.com/facesynth/facesynth/internal/torch"
)

func runTrainCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = Run(context.Background(), &Env{Stdout: &o, Stderr: &e}, args)
	return code, o.String(), e.String()
}

func TestTrainCommand(t *testing.T) {
	if !torch.Available {
		t.Skip("built without cgo: no libtorch")
	}
	dir := t.TempDir()
	faces, model := filepath.Join(dir, "faces"), filepath.Join(dir, "model")
	if code, _, errs := runTrainCLI(t, "extract", testmedia.Path(t, "astronaut.png"), "-o", faces, "-size", "64"); code != 0 {
		t.Fatalf("extract: exit %d: %s", code, errs)
	}
	empty := filepath.Join(dir, "empty")
	os.MkdirAll(empty, 0o755)
	os.WriteFile(filepath.Join(empty, "alignments.json"), []byte(`{"version":1,"frames":[]}`), 0o644)

	train := []string{"train", "--a", faces, "--b", faces, "-o", model, "--arch", "light", "--batch", "2"}
	code, out, errs := runTrainCLI(t, append(train, "--steps", "2", "--save-every", "1")...)
	if code != 0 || !strings.Contains(out, "train: light, step 2 (2 this run") || !strings.Contains(out, "state.json") {
		t.Fatalf("train: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	code, out, errs = runTrainCLI(t, "train", "--a", faces, "--b", faces, "-o", model, "--resume", "--steps", "3")
	if code != 0 || !strings.Contains(out, "step 3 (1 this run") {
		t.Fatalf("resume: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"train"}, 2, "want --a DIR_A --b DIR_B -o MODEL_DIR"},
		{[]string{"train", "--a", faces, "--b", faces, "-o", model, "--arch", "huge"}, 2, `unknown architecture "huge"`},
		{[]string{"train", "--a", faces, "--b", faces, "-o", model, "--save-every", "0"}, 2, "must be positive"},
		{append(train, "--steps", "4"), 1, "holds a checkpoint at step 3 already"},
		{[]string{"train", "--a", faces, "--b", faces, "-o", model, "--resume", "--arch", "original"}, 1, `checkpoint is architecture "light", not "original"`},
		{[]string{"train", "--a", empty, "--b", faces, "-o", filepath.Join(dir, "m2"), "--arch", "light"}, 1, "no faces to train on"},
		{[]string{"train", "--a", faces, "--b", faces, "-o", filepath.Join(dir, "m3"), "--resume"}, 1, "no checkpoint"},
		{[]string{"bench", "train", "--arch", "huge"}, 2, "unknown architecture"},
	} {
		code, _, errs := runTrainCLI(t, c.args...)
		if code != c.code || !strings.Contains(errs, c.want) || strings.Count(strings.TrimSpace(errs), "\n") > 0 && c.code == 1 {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and one line containing %q", c.args[1:], code, errs, c.code, c.want)
		}
	}
}

func TestBenchTrainPrintsResult(t *testing.T) {
	if !torch.Available {
		t.Skip("built without cgo: no libtorch")
	}
	code, out, errs := runTrainCLI(t, "bench", "train", "--arch", "light", "--mode", "both", "--batch", "2", "--warmup", "0", "--iters", "1", "--reps", "1")
	if code != 0 || !strings.Contains(out, "RESULT facesynth light train median ") || !strings.Contains(out, "RESULT facesynth light infer median ") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
}
