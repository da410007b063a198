package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/testmedia"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = Run(context.Background(), &Env{Stdout: &o, Stderr: &e}, args)
	return code, o.String(), e.String()
}

func TestDetectJSON(t *testing.T) {
	code, out, errs := run(t, "detect", testmedia.Path(t, "astronaut.png"), "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r face.ImageResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if r.Image != "astronaut.png" || r.Width != 512 || r.Height != 512 || len(r.Faces) != 1 || len(r.Faces[0].Landmarks) != 68 {
		t.Errorf("unexpected result: %s %dx%d, %d faces", r.Image, r.Width, r.Height, len(r.Faces))
	}
}

// TestErrors: every bad input gives exactly one line on stderr and the right
// exit status.
func TestErrors(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("not an image"), 0o644)
	trunc := filepath.Join(dir, "trunc.png")
	b, _ := os.ReadFile(testmedia.Path(t, "astronaut.png"))
	os.WriteFile(trunc, b[:len(b)/3], 0o644)
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"detect"}, 2},
		{[]string{"detect", "a.png", "b.png"}, 2},
		{[]string{"detect", "--bogus", "a.png"}, 2},
		{[]string{"nosuchcommand"}, 2},
		{[]string{"detect", filepath.Join(dir, "missing.png")}, 1},
		{[]string{"detect", text}, 1},
		{[]string{"detect", trunc}, 1},
		{[]string{"extract", filepath.Join(dir, "missing.mp4"), "-o", filepath.Join(dir, "o1")}, 1},
		{[]string{"extract", text, "-o", filepath.Join(dir, "o2")}, 1},
		{[]string{"extract", testmedia.Path(t, "astronaut.png")}, 2},
		{[]string{"extract", testmedia.Path(t, "astronaut.png"), "-o", filepath.Join(dir, "o3"), "-size", "9000"}, 1},
	} {
		code, _, errs := run(t, c.args...)
		lines := strings.Split(strings.TrimSpace(errs), "\n")
		// Usage errors may also print the flag list; the first line is the message.
		if code != c.code || (c.code == 1 && len(lines) != 1) || !strings.HasPrefix(lines[0], "facesynth") && c.code == 1 {
			t.Errorf("%v: exit %d (want %d), stderr %q", c.args, code, c.code, errs)
		} else {
			t.Logf("%v → %d: %s", c.args, code, lines[0])
		}
	}
}
