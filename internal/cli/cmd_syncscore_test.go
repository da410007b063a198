package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facesynth/facesynth/internal/testmedia"
	"github.com/facesynth/facesynth/internal/torch"
)

// TestSyncScore: the astronaut (a face the shipped scorer never saw)
// speaks two held-out sentences; sync-score finds the clip in sync, and
// finds the speech 5 frames (0.2 s) late after ffmpeg delays it.
func TestSyncScore(t *testing.T) {
	if testing.Short() || !torch.Available {
		t.Skip("renders a video and needs libtorch")
	}
	dir := t.TempDir()
	clip := filepath.Join(dir, "clip.mp4")
	if code, _, errs := run(t, "talk", "--photo", testmedia.Path(t, "astronaut.png"), "--voice", "en-gb+m4",
		"--text", "The farmer moved the sheep to the upper meadow. Many birds fly south when the autumn comes.", "-o", clip); code != 0 {
		t.Fatalf("talk: exit %d: %s", code, errs)
	}
	late := filepath.Join(dir, "late.mp4")
	ffmpeg(t, "-i", clip, "-c:v", "copy", "-af", "adelay=200:all=1", "-c:a", "aac", late)
	for _, c := range []struct {
		path string
		want int
	}{{clip, 0}, {late, 5}} {
		code, out, errs := run(t, "sync-score", c.path, "--json")
		if code != 0 {
			t.Fatalf("sync-score %s: exit %d: %s", c.path, code, errs)
		}
		var rep struct {
			Offset     int       `json:"offset_frames"`
			Confidence float64   `json:"confidence"`
			Dists      []float64 `json:"distances"`
			InSync     bool      `json:"in_sync"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out)
		}
		t.Logf("%s: offset %+d, confidence %.3f", filepath.Base(c.path), rep.Offset, rep.Confidence)
		if rep.Offset < c.want-1 || rep.Offset > c.want+1 || rep.InSync != (c.want == 0) || len(rep.Dists) != 31 || rep.Confidence <= 0 {
			t.Errorf("%s: %+v, want offset %d ± 1", filepath.Base(c.path), rep, c.want)
		}
	}
	code, out, _ := run(t, "sync-score", late)
	if code != 0 || !strings.Contains(out, "the sound comes late") {
		t.Errorf("text report: exit %d, %q", code, out)
	}
}

// TestSyncScoreErrors: bad command lines and inputs of sync-score, dataset,
// train sync, train talk and talk --model give one line and the right exit
// status.
func TestSyncScoreErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"sync-score"}, 2, "want VIDEO"},
		{[]string{"sync-score", "a.mp4", "--shift", "40"}, 2, "--shift"},
		{[]string{"sync-score", filepath.Join(t.TempDir(), "none.mp4")}, 1, "media: "},
		{[]string{"dataset"}, 2, "subcommand"},
		{[]string{"dataset", "build", "-o", t.TempDir()}, 2, "want VIDEO"},
		{[]string{"dataset", "synth", "--split", "dev", "-o", t.TempDir()}, 2, "unknown split"},
		{[]string{"train", "sync", "--data", t.TempDir(), "-o", filepath.Join(t.TempDir(), "m.safetensors")}, 1, "no samples"},
		{[]string{"train", "talk", "-o", t.TempDir()}, 2, "want --data"},
		{[]string{"train", "talk", "--data", t.TempDir(), "-o", t.TempDir()}, 1, "no samples"},
		{[]string{"talk", "--photo", "p.png", "--audio", "a.wav", "-o", "o.mp4", "--model", filepath.Join(t.TempDir(), "none")}, 1, "talkgan: "},
	} {
		if !torch.Available && c.code == 1 {
			continue
		}
		code, _, errs := run(t, c.args...)
		if code != c.code || !strings.Contains(errs, c.want) || strings.Count(strings.TrimSpace(errs), "\n") > 0 && c.code != 2 {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", c.args, code, errs, c.code, c.want)
		}
	}
}
