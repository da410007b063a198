package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facesynth/facesynth/internal/mark"
	"github.com/facesynth/facesynth/internal/testmedia"
)

func verifyJSON(t *testing.T, path string) (int, verifyReport) {
	t.Helper()
	code, out, errs := run(t, "verify", path, "--json")
	var rep verifyReport
	if code == 0 || code == 3 {
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("verify %s: output is not JSON: %v\n%s\n%s", path, err, out, errs)
		}
	}
	if errs != "" && code != 1 {
		t.Errorf("verify %s: exit %d with stderr %q", path, code, errs)
	}
	return code, rep
}

// mark labels a still; verify finds watermark, payload and labels in it
// (exit 0) and nothing in the original (exit 3).
func TestMarkVerifyImage(t *testing.T) {
	dir := t.TempDir()
	src := testmedia.Path(t, "face_swapped.png")
	for _, name := range []string{"marked.png", "marked.jpg"} {
		out := filepath.Join(dir, name)
		if code, _, errs := run(t, "mark", src, out, "--id", "0badc0de"); code != 0 {
			t.Fatalf("mark: exit %d: %s", code, errs)
		}
		code, rep := verifyJSON(t, out)
		wm := rep.Watermark
		t.Logf("%s: exit %d, %+v, labels %v", name, code, wm, rep.Labels)
		if code != 0 || !wm.Found || !wm.PayloadValid || wm.ContentID != "0badc0de" || wm.Version != mark.Version ||
			!rep.Synthetic || rep.Kind != "image" || !strings.HasPrefix(rep.Labels["comment"], "synthetic: made with facesynth") {
			t.Errorf("%s: exit %d, report %+v", name, code, rep)
		}
	}
	code, rep := verifyJSON(t, src)
	if code != 3 || rep.Watermark.Found || rep.Synthetic || len(rep.Labels) != 0 {
		t.Errorf("unmarked still: exit %d, report %+v", code, rep)
	}
	// The text report names the verdict on its first line.
	code, out, _ := run(t, "verify", filepath.Join(dir, "marked.png"))
	if first := strings.SplitN(out, "\n", 2)[0]; code != 0 || !strings.Contains(first, "watermark found: payload v1/0badc0de") {
		t.Errorf("text report: exit %d, %q", code, out)
	}
}

// mark labels a 2-second clip; verify finds the mark in it, also after a
// re-encode at half size, and not in the clip it came from.
func TestMarkVerifyVideo(t *testing.T) {
	dir := t.TempDir()
	clip := filepath.Join(dir, "clip.mp4")
	ffmpeg(t, "-ss", "20", "-i", testmedia.Path(t, "cap13_edit2.mp4"), "-t", "2", "-c:v", "libx264", "-preset", "veryfast", clip)
	marked := filepath.Join(dir, "marked.mp4")
	if code, _, errs := run(t, "mark", clip, marked, "--id", "00c0ffee"); code != 0 {
		t.Fatalf("mark: exit %d: %s", code, errs)
	}
	half := filepath.Join(dir, "half.mp4")
	ffmpeg(t, "-i", marked, "-vf", "scale=iw/2:ih/2", "-c:v", "libx264", "-crf", "28", half)
	for _, c := range []struct {
		path   string
		code   int
		labels bool
	}{{marked, 0, true}, {half, 0, true}, {clip, 3, false}} {
		code, rep := verifyJSON(t, c.path)
		wm := rep.Watermark
		t.Logf("%s: exit %d, z=%.1f payload %s, %d frames, scale %.2f, labels %v", filepath.Base(c.path), code, wm.Confidence, wm.ContentID, wm.Frames, wm.Scale, rep.Labels)
		if code != c.code || rep.Synthetic != c.labels || rep.Kind != "video" || wm.Frames != 50 {
			t.Errorf("%s: exit %d (want %d), report %+v", c.path, code, c.code, rep)
		}
		if c.code == 0 && (!wm.PayloadValid || wm.ContentID != "00c0ffee") {
			t.Errorf("%s: payload %+v", c.path, wm)
		}
	}
}

func TestVerifyMarkErrors(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("not media"), 0o644)
	img := testmedia.Path(t, "face_swapped.png")
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"verify"}, 2},
		{[]string{"verify", img, img}, 2},
		{[]string{"verify", img, "--frames", "-1"}, 2},
		{[]string{"verify", filepath.Join(dir, "missing.mp4")}, 1},
		{[]string{"verify", text}, 1},
		{[]string{"mark", img}, 2},
		{[]string{"mark", img, filepath.Join(dir, "o.png"), "--id", "xyz"}, 2},
		{[]string{"mark", img, filepath.Join(dir, "o.gif")}, 1},
		{[]string{"mark", text, filepath.Join(dir, "o.mp4")}, 1},
	} {
		code, _, errs := run(t, c.args...)
		first := strings.SplitN(strings.TrimSpace(errs), "\n", 2)[0]
		if code != c.code || c.code == 1 && strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("%v: exit %d (want %d), stderr %q", c.args, code, c.code, errs)
		} else {
			t.Logf("%v → %d: %s", c.args, code, first)
		}
	}
}

func ffmpeg(t *testing.T, args ...string) {
	t.Helper()
	args = append([]string{"-nostdin", "-loglevel", "error", "-y"}, args...)
	if b, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %v: %v: %s", args, err, b)
	}
}
