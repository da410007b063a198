package studio

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/verify"
)

// A talk job on the sample photo and speech: progress comes live over the
// event stream up to 100 %, a second stream opened mid-job (a reloaded
// page) starts from the same job and progress, and the result is a
// watermarked 11-second video served by the job's id with range requests.
func TestTalkJobLive(t *testing.T) {
	c := start(t, Config{})
	photo, audio := c.upload("astronaut.png"), c.upload("jfk.wav")
	release := make(chan struct{})
	reached := holdAt(c.s, 100, release)
	events, closeEvents := c.stream()
	defer closeEvents()
	if st := nextState(t, events); len(st.Jobs) != 0 || len(st.Uploads) != 2 {
		t.Fatalf("first state: %d jobs, %d uploads", len(st.Jobs), len(st.Uploads))
	}
	j := c.createJob(Spec{Kind: "talk", Photo: photo.ID, Audio: audio.ID})
	if id := waitReached(t, reached, 2*time.Minute); id != j.ID {
		t.Fatalf("held job %s, want %s", id, j.ID)
	}
	time.Sleep(2 * eventGap) // let the held progress reach the streams

	// The reloaded page: a new stream's first event shows the job where
	// it is.
	again, closeAgain := c.stream()
	st := nextState(t, again)
	closeAgain()
	if len(st.Jobs) != 1 || st.Jobs[0].ID != j.ID || st.Jobs[0].State != Running {
		t.Fatalf("after reload: %+v", st.Jobs)
	}
	p := st.Jobs[0].Progress
	if p.Stage != "render" || p.Done != 100 || p.Total != 275 || p.Unit != "frames" || p.Percent != 36.4 || p.ETA <= 0 {
		t.Errorf("after reload: progress %+v, want render 100/275 frames, 36.4 %%, an ETA", p)
	}
	close(release)

	// The first stream saw the job go from 0 to 100 % without going back.
	var percents []float64
	last := -1.0
	deadline := time.After(2 * time.Minute)
	for done := false; !done; {
		select {
		case ev := <-events:
			if ev.name != "job" {
				continue
			}
			var ej Job
			json.Unmarshal(ev.data, &ej)
			if ej.ID != j.ID {
				continue
			}
			if ej.Progress.Percent < last {
				t.Errorf("progress went back from %.1f to %.1f", last, ej.Progress.Percent)
			}
			last = ej.Progress.Percent
			percents = append(percents, last)
			if ej.State == Done {
				done = true
			} else if ej.State != Running && ej.State != Queued {
				t.Fatalf("job ended %s: %s", ej.State, ej.Error)
			}
		case <-deadline:
			t.Fatalf("no end in 2 minutes; progress seen %v", percents)
		}
	}
	if len(percents) < 5 || last != 100 {
		t.Errorf("progress events %v: want several, ending at 100", percents)
	}
	t.Logf("%d progress events: %v", len(percents), percents)

	j = c.job(j.ID)
	if j.Result == nil || !j.Result.Video || !strings.Contains(j.Result.Summary, "275 frames") || j.Progress.Percent != 100 || j.Runs != 1 {
		t.Fatalf("done job: %+v result %+v", j, j.Result)
	}
	// The result, by id: a range request (how players seek) and a probe.
	res, body := c.do("GET", "/api/jobs/"+j.ID+"/result", nil, map[string]string{"Range": "bytes=0-1023"})
	if res.StatusCode != http.StatusPartialContent || len(body) != 1024 || res.Header.Get("Content-Type") != "video/mp4" {
		t.Errorf("range request: %s, %d bytes, %s", res.Status, len(body), res.Header.Get("Content-Type"))
	}
	out := filepath.Join(c.s.Work(), "jobs", j.ID, "result.mp4")
	info, err := media.Probe(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	if info.Frames != 275 || !info.HasAudio || info.Width != 512 || info.Height != 512 {
		t.Errorf("result: %d frames, audio %v, %dx%d", info.Frames, info.HasAudio, info.Width, info.Height)
	}
	// And it carries the watermark, as everything the studio makes does.
	rep, err := verify.File(context.Background(), out, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Watermark.Found || !rep.Synthetic {
		t.Errorf("result not watermarked/labelled: %+v", rep)
	}
}

// One worker: a second job waits while the first runs; a queued job
// cancels at once, a running one through its context (leaving no result
// file); both resume to completion.
func TestPoolCancelResume(t *testing.T) {
	c := start(t, Config{Workers: 1})
	photo := c.upload("astronaut.png")
	release := make(chan struct{})
	reached := holdAt(c.s, 10, release)
	a := c.createJob(Spec{Kind: "talk", Photo: photo.ID, Text: "Hello there, this is a test.", Seed: 3})
	b := c.createJob(Spec{Kind: "talk", Photo: photo.ID, Text: "Second.", Emotion: "happy"})
	waitReached(t, reached, 2*time.Minute)
	if ja, jb := c.job(a.ID), c.job(b.ID); ja.State != Running || jb.State != Queued {
		t.Fatalf("with one worker: %s and %s, want running and queued", ja.State, jb.State)
	}
	// Cancel the queued one: at once.
	if code := c.post("/api/jobs/" + b.ID + "/cancel"); code != http.StatusAccepted {
		t.Fatalf("cancel queued: %d", code)
	}
	if jb := c.job(b.ID); jb.State != Cancelled {
		t.Errorf("cancelled queued job is %s", jb.State)
	}
	// Cancel the running one: it stops at its next frame.
	if code := c.post("/api/jobs/" + a.ID + "/cancel"); code != http.StatusAccepted {
		t.Fatalf("cancel running: %d", code)
	}
	ja := c.waitJob(a.ID, time.Minute, "end", finished)
	if ja.State != Cancelled || ja.Error != "" {
		t.Errorf("cancelled running job: %s %q", ja.State, ja.Error)
	}
	if _, err := os.Stat(filepath.Join(c.s.Work(), "jobs", a.ID, "result.mp4")); err == nil {
		t.Error("a cancelled job left a result")
	}
	if code := c.post("/api/jobs/" + a.ID + "/cancel"); code != http.StatusConflict {
		t.Errorf("cancel a cancelled job: %d, want 409", code)
	}
	if res, _ := c.do("DELETE", "/api/jobs/"+b.ID, nil, nil); res.StatusCode != http.StatusNoContent {
		t.Errorf("delete cancelled job: %s", res.Status)
	}
	close(release)
	// Resume: it runs again, to the end.
	if code := c.post("/api/jobs/" + a.ID + "/resume"); code != http.StatusAccepted {
		t.Fatalf("resume: %d", code)
	}
	ja = c.waitJob(a.ID, 2*time.Minute, "end", finished)
	if ja.State != Done || ja.Runs != 2 || ja.Progress.Percent != 100 {
		t.Errorf("resumed job: %s, %d runs, %.1f %%, %q", ja.State, ja.Runs, ja.Progress.Percent, ja.Error)
	}
	if code := c.post("/api/jobs/" + a.ID + "/resume"); code != http.StatusConflict {
		t.Errorf("resume a done job: %d, want 409", code)
	}
	if res, _ := c.do("GET", "/api/jobs/"+b.ID, nil, nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("deleted job: %s", res.Status)
	}
	if _, err := os.Stat(filepath.Join(c.s.Work(), "jobs", b.ID)); err == nil {
		t.Error("a deleted job left its folder")
	}
}

// A restarted studio shows what the last one did: a finished result, a
// failed job with its one-line error, a job that was running when it
// stopped (interrupted where it was; it resumes) and a queued one (which
// runs by itself).
func TestRestart(t *testing.T) {
	work := t.TempDir()
	c := start(t, Config{Work: work, Workers: 1})
	photo, audio, gone := c.upload("astronaut.png"), c.upload("jfk.wav"), c.upload("face_swapped.png")
	done := c.createJob(Spec{Kind: "talk", Photo: photo.ID, Text: "Finished before the restart."})
	if j := c.waitJob(done.ID, 2*time.Minute, "end", finished); j.State != Done {
		t.Fatalf("first job: %s %s", j.State, j.Error)
	}
	os.Remove(filepath.Join(work, "uploads", gone.ID+".png")) // pulled from under the job
	bad := c.createJob(Spec{Kind: "verify", File: gone.ID})
	failed := c.waitJob(bad.ID, time.Minute, "end", finished)
	if failed.State != Failed || !strings.HasPrefix(failed.Error, "media: ") || strings.Contains(failed.Error, "\n") {
		t.Errorf("job on a vanished file: %s %q", failed.State, failed.Error)
	}
	reached := holdAt(c.s, 50, make(chan struct{})) // released only by the server stopping
	running := c.createJob(Spec{Kind: "talk", Photo: photo.ID, Audio: audio.ID})
	waitReached(t, reached, 2*time.Minute)
	queued := c.createJob(Spec{Kind: "talk", Photo: photo.ID, Text: "Queued at the restart."})
	c.s.Close()
	var onDisk Job
	if err := readJSONFile(filepath.Join(work, "jobs", running.ID, "job.json"), &onDisk); err != nil || onDisk.State != Interrupted {
		t.Fatalf("stopped job on disk: %s, %v", onDisk.State, err)
	}

	c2 := start(t, Config{Work: work})
	st := c2.s.snapshot()
	byID := map[string]Job{}
	for _, j := range st.Jobs {
		byID[j.ID] = j
	}
	if len(st.Jobs) != 4 || len(st.Uploads) != 2 {
		t.Fatalf("after restart: %d jobs, %d uploads (want 4 and 2: the vanished upload is dropped)", len(st.Jobs), len(st.Uploads))
	}
	if j := byID[done.ID]; j.State != Done || j.Result == nil || !j.Result.Video {
		t.Errorf("finished job after restart: %+v", j)
	}
	if j := byID[bad.ID]; j.State != Failed || j.Error != failed.Error {
		t.Errorf("failed job after restart: %s %q", j.State, j.Error)
	}
	if j := byID[running.ID]; j.State != Interrupted || j.Progress.Done != 50 || j.Progress.Total != 275 || j.Progress.Percent != 18.2 {
		t.Errorf("interrupted job after restart: %s, progress %+v", j.State, j.Progress)
	}
	res, body := c2.do("GET", "/api/jobs/"+done.ID+"/result", nil, nil)
	if fi, err := os.Stat(filepath.Join(work, "jobs", done.ID, "result.mp4")); err != nil || res.StatusCode != 200 || int64(len(body)) != fi.Size() {
		t.Errorf("result after restart: %s, %d bytes", res.Status, len(body))
	}
	// The queued job runs by itself; the interrupted one on request.
	if j := c2.waitJob(queued.ID, 2*time.Minute, "end", finished); j.State != Done || j.Runs != 1 {
		t.Errorf("queued job after restart: %s, %d runs, %q", j.State, j.Runs, j.Error)
	}
	if code := c2.post("/api/jobs/" + running.ID + "/resume"); code != http.StatusAccepted {
		t.Fatalf("resume: %d", code)
	}
	if j := c2.waitJob(running.ID, 2*time.Minute, "end", finished); j.State != Done || j.Runs != 2 || j.Error != "" {
		t.Errorf("resumed job: %s, %d runs, %q", j.State, j.Runs, j.Error)
	}
}
