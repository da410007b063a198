package studio

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/facesynth/facesynth/internal/animate"
	"github.com/facesynth/facesynth/internal/blend"
	"github.com/facesynth/facesynth/internal/convert"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/progress"
	"github.com/facesynth/facesynth/internal/reenact"
	"github.com/facesynth/facesynth/internal/swap"
	"github.com/facesynth/facesynth/internal/swapjob"
	"github.com/facesynth/facesynth/internal/talk"
	"github.com/facesynth/facesynth/internal/verify"
)

// maxQueued bounds the jobs waiting for a worker.
const maxQueued = 256

// Limits of a job's options.
const (
	maxText    = 2000        // characters of text for talk
	maxMinutes = 7 * 24 * 60 // training time of a swap
	maxFaces   = 20000
	maxFrames  = 1 << 20
)

// Spec is what a job does: its kind, its inputs (upload ids) and options.
// Each kind reads only its own fields.
type Spec struct {
	Kind string `json:"kind"` // "talk", "swap", "reenact" or "verify"

	// talk: Photo speaks Audio (an audio upload or a video with sound)
	// or Text.
	Photo   string `json:"photo,omitempty"`
	Audio   string `json:"audio,omitempty"`
	Text    string `json:"text,omitempty"`
	Emotion string `json:"emotion,omitempty"` // neutral, happy, sad, angry, surprised
	Still   bool   `json:"still,omitempty"`
	Seed    uint64 `json:"seed,omitempty"`

	// swap: Source's face goes into Target (a video). Quality is a
	// swapjob preset; Minutes and Faces override it.
	Source  string  `json:"source,omitempty"`
	Target  string  `json:"target,omitempty"` // also reenact's target (photo or video)
	Quality string  `json:"quality,omitempty"`
	Minutes float64 `json:"minutes,omitempty"` // training time over all runs
	Faces   int     `json:"faces,omitempty"`

	// reenact: Target does what Driver (a video) does.
	Driver    string `json:"driver,omitempty"`
	AudioFrom string `json:"audio_from,omitempty"` // driver, target, none
	Pose      string `json:"pose,omitempty"`       // target, driver

	Limit int `json:"limit,omitempty"` // swap, reenact: at most this many frames (0: all)

	// verify: the file to check for the watermark.
	File string `json:"file,omitempty"`
}

// inputs are the upload ids the spec names.
func (sp Spec) inputs() []string {
	var ids []string
	for _, id := range []string{sp.Photo, sp.Audio, sp.Source, sp.Target, sp.Driver, sp.File} {
		if id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}

// check validates a spec against the uploads (under s.mu) and fills in
// defaults.
func (s *Server) check(sp *Spec) error {
	need := func(role, id string, kinds ...string) error {
		if id == "" {
			return fmt.Errorf("studio: %s: choose a %s", sp.Kind, role)
		}
		u, ok := s.uploads[id]
		if !idPattern.MatchString(id) || !ok {
			return fmt.Errorf("studio: %s: %s %q is not an upload", sp.Kind, role, id)
		}
		for _, k := range kinds {
			if u.Kind == k || k == "sound" && u.Kind == "video" && u.HasAudio {
				return nil
			}
		}
		return fmt.Errorf("studio: %s: the %s must be %s, and %s is %s", sp.Kind, role, strings.Join(kinds, " or "), u.Name, a(u.Kind))
	}
	unused := func(fields map[string]bool) error {
		for name, set := range fields {
			if set {
				return fmt.Errorf("studio: %s takes no %s", sp.Kind, name)
			}
		}
		return nil
	}
	if sp.Limit < 0 || sp.Limit > maxFrames {
		return fmt.Errorf("studio: limit %d, want 0..%d", sp.Limit, maxFrames)
	}
	switch sp.Kind {
	case "talk":
		if err := unused(map[string]bool{"source": sp.Source != "", "target": sp.Target != "", "driver": sp.Driver != "", "file": sp.File != ""}); err != nil {
			return err
		}
		if err := need("photo", sp.Photo, "image"); err != nil {
			return err
		}
		sp.Text = strings.TrimSpace(sp.Text)
		if (sp.Audio == "") == (sp.Text == "") {
			return errors.New("studio: talk: give either an audio file or a text")
		}
		if sp.Audio != "" {
			if err := need("audio", sp.Audio, "audio", "sound"); err != nil {
				return err
			}
		}
		if utf8.RuneCountInString(sp.Text) > maxText {
			return fmt.Errorf("studio: talk: text of %d characters, the limit is %d", utf8.RuneCountInString(sp.Text), maxText)
		}
		if sp.Emotion == "" {
			sp.Emotion = "neutral"
		}
		if _, err := animate.ParseEmotion(sp.Emotion); err != nil {
			return fmt.Errorf("studio: talk: %w", err)
		}
	case "swap":
		if err := unused(map[string]bool{"photo": sp.Photo != "", "audio": sp.Audio != "", "driver": sp.Driver != "", "file": sp.File != ""}); err != nil {
			return err
		}
		if err := need("source", sp.Source, "video", "image"); err != nil {
			return err
		}
		if err := need("target", sp.Target, "video"); err != nil {
			return err
		}
		if sp.Quality == "" {
			sp.Quality = "draft"
		}
		if _, ok := swapjob.Presets[sp.Quality]; !ok {
			return fmt.Errorf("studio: swap: quality is draft or full, not %q", sp.Quality)
		}
		if !(sp.Minutes >= 0 && sp.Minutes <= maxMinutes) {
			return fmt.Errorf("studio: swap: training minutes %v, want 0..%d", sp.Minutes, maxMinutes)
		}
		if sp.Faces < 0 || sp.Faces > maxFaces {
			return fmt.Errorf("studio: swap: faces %d, want 0..%d", sp.Faces, maxFaces)
		}
	case "reenact":
		if err := unused(map[string]bool{"photo": sp.Photo != "", "audio": sp.Audio != "", "source": sp.Source != "", "file": sp.File != ""}); err != nil {
			return err
		}
		if err := need("driver", sp.Driver, "video"); err != nil {
			return err
		}
		if err := need("target", sp.Target, "image", "video"); err != nil {
			return err
		}
		if sp.AudioFrom == "" {
			sp.AudioFrom = "driver"
		}
		if _, err := reenact.ParseAudioFrom(sp.AudioFrom); err != nil {
			return fmt.Errorf("studio: %w", err)
		}
		if sp.Pose == "" {
			sp.Pose = "target"
		}
		if sp.Pose != "target" && sp.Pose != "driver" {
			return fmt.Errorf("studio: reenact: pose is target or driver, not %q", sp.Pose)
		}
	case "verify":
		if err := unused(map[string]bool{"photo": sp.Photo != "", "audio": sp.Audio != "", "source": sp.Source != "", "target": sp.Target != "", "driver": sp.Driver != ""}); err != nil {
			return err
		}
		if err := need("file", sp.File, "image", "video"); err != nil {
			return err
		}
	default:
		return fmt.Errorf("studio: unknown job kind %q (talk, swap, reenact or verify)", sp.Kind)
	}
	return nil
}

func a(kind string) string {
	if kind == "image" || kind == "audio" {
		return "an " + kind
	}
	return "a " + kind
}

func (s *Server) handleJobCreate(w http.ResponseWriter, r *http.Request) {
	var sp Spec
	if err := readJSON(w, r, &sp); err != nil {
		httpError(w, http.StatusBadRequest, "%v", err)
		return
	}
	s.mu.Lock()
	if err := s.check(&sp); err != nil {
		s.mu.Unlock()
		httpError(w, http.StatusBadRequest, "%v", err)
		return
	}
	j := &Job{ID: newID(), Spec: sp, State: Queued, Created: time.Now().UTC(), Progress: Progress{ETA: -1}}
	s.jobs[j.ID] = j
	// The job is in the map before a worker can take its id.
	select {
	case s.queue <- j.ID:
	default:
		delete(s.jobs, j.ID)
		s.mu.Unlock()
		httpError(w, http.StatusServiceUnavailable, "studio: %d jobs are waiting already; try again later", maxQueued)
		return
	}
	s.touch(j)
	s.touchList()
	snap := *j
	s.mu.Unlock()
	s.flush() // a queued job is on disk before the page hears of it
	writeJSON(w, http.StatusCreated, snap)
}

// lookupJob finds a job by the id in the request's path (under s.mu).
func (s *Server) lookupJob(w http.ResponseWriter, r *http.Request) *Job {
	id := r.PathValue("id")
	j, ok := s.jobs[id]
	if !idPattern.MatchString(id) || !ok {
		httpError(w, http.StatusNotFound, "studio: no job %q", id)
		return nil
	}
	return j
}

func (s *Server) handleJob(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	j := s.lookupJob(w, r)
	var snap Job
	if j != nil {
		snap = *j
	}
	s.mu.Unlock()
	if j != nil {
		writeJSON(w, http.StatusOK, snap)
	}
}

// handleJobCancel cancels a queued job at once and a running one through
// its context (a swap in training saves a checkpoint first).
func (s *Server) handleJobCancel(w http.ResponseWriter, r *http.Request) {
	s.change(w, r, func(j *Job) (int, error) {
		switch j.State {
		case Queued:
			now := time.Now().UTC()
			j.State, j.Finished = Cancelled, &now
		case Running:
			if rj := s.running[j.ID]; rj != nil {
				rj.byUser = true
				rj.cancel()
				j.Progress.Status = "cancelling"
			}
		default:
			return http.StatusConflict, fmt.Errorf("studio: job %s is %s, not queued or running", j.ID, j.State)
		}
		return http.StatusAccepted, nil
	})
}

// handleJobResume queues a cancelled, failed or interrupted job again.
func (s *Server) handleJobResume(w http.ResponseWriter, r *http.Request) {
	s.change(w, r, func(j *Job) (int, error) {
		if !j.State.resumable() {
			return http.StatusConflict, fmt.Errorf("studio: job %s is %s; only cancelled, failed or interrupted jobs resume", j.ID, j.State)
		}
		select {
		case s.queue <- j.ID:
		default:
			return http.StatusServiceUnavailable, fmt.Errorf("studio: %d jobs are waiting already; try again later", maxQueued)
		}
		j.State, j.Error, j.Progress.ETA, j.Progress.Status = Queued, "", -1, ""
		return http.StatusAccepted, nil
	})
}

// change applies fn to the job named in the request (under s.mu), saves
// the job and answers with it, or with fn's error.
func (s *Server) change(w http.ResponseWriter, r *http.Request, fn func(j *Job) (int, error)) {
	s.mu.Lock()
	j := s.lookupJob(w, r)
	if j == nil {
		s.mu.Unlock()
		return
	}
	code, err := fn(j)
	if err != nil {
		s.mu.Unlock()
		httpError(w, code, "%v", err)
		return
	}
	s.touch(j)
	snap := *j
	s.mu.Unlock()
	s.flush()
	writeJSON(w, code, snap)
}

// handleJobDelete removes a job that is not queued or running, with its
// files.
func (s *Server) handleJobDelete(w http.ResponseWriter, r *http.Request) {
	s.saveMu.Lock() // no save of this job may land after the removal
	defer s.saveMu.Unlock()
	s.mu.Lock()
	j := s.lookupJob(w, r)
	if j == nil {
		s.mu.Unlock()
		return
	}
	if j.State == Queued || j.State == Running {
		s.mu.Unlock()
		httpError(w, http.StatusConflict, "studio: job %s is %s; cancel it first", j.ID, j.State)
		return
	}
	delete(s.jobs, j.ID)
	delete(s.dirty, j.ID)
	delete(s.saved, j.ID)
	s.touchList()
	s.mu.Unlock()
	if err := removeAll(s.jobDir(j.ID)); err != nil {
		httpError(w, http.StatusInternalServerError, "studio: remove job %s: %v", j.ID, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleJobFile serves a job's result video, or a swap's latest preview
// grid and loss curve. Only these fixed names exist.
func (s *Server) handleJobFile(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	j := s.lookupJob(w, r)
	var kind string
	if j != nil {
		kind = j.Spec.Kind
	}
	s.mu.Unlock()
	if j == nil {
		return
	}
	switch file := r.PathValue("file"); {
	case file == "result" && kind != "verify":
		serveFile(w, r, s.resultPath(j.ID), "video/mp4")
	case (file == swap.PreviewFile || file == swap.LossPlotFile) && kind == "swap":
		serveFile(w, r, filepath.Join(swapjob.ModelDir(s.swapWork(j.ID)), file), "image/png")
	default:
		httpError(w, http.StatusNotFound, "studio: job %s has no %q", j.ID, file)
	}
}

func (s *Server) swapWork(id string) string { return filepath.Join(s.jobDir(id), "swap") }

// worker runs queued jobs one after another until the server closes.
func (s *Server) worker() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case id := <-s.queue:
			s.run(id)
		}
	}
}

// run runs one job and records how it ended.
func (s *Server) run(id string) {
	s.mu.Lock()
	j, ok := s.jobs[id]
	if !ok || j.State != Queued || s.closed {
		s.mu.Unlock()
		return // cancelled or deleted while it waited, or a second copy of a resumed id
	}
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	rj := &runningJob{cancel: cancel, start: time.Now()}
	s.running[id] = rj
	now := time.Now().UTC()
	j.State, j.Error, j.Started, j.Finished, j.Result = Running, "", &now, nil, nil
	j.Runs++
	j.Progress = Progress{Stage: "starting", ETA: -1, Preview: j.Progress.Preview, Loss: j.Progress.Loss}
	spec := j.Spec
	in, err := s.inputPaths(spec)
	s.touch(j)
	s.mu.Unlock()
	s.flush()

	var res *Result
	if err == nil {
		res, err = s.execute(ctx, id, spec, in)
	}

	s.mu.Lock()
	delete(s.running, id)
	end := time.Now().UTC()
	j.Finished = &end
	j.Progress.ETA = -1
	j.Progress.Elapsed = round1(time.Since(rj.start).Seconds())
	switch {
	case err == nil:
		j.State, j.Result = Done, res
		j.Progress.Percent, j.Progress.Status = 100, ""
	case rj.byUser:
		j.State, j.Progress.Status = Cancelled, ""
	case s.ctx.Err() != nil:
		j.State, j.Error = Interrupted, "the studio stopped while this job ran; resume it to continue"
	default:
		j.State, j.Error = Failed, oneLine(err.Error())
	}
	s.touch(j)
	s.mu.Unlock()
	s.flush()
}

// inputPaths maps the spec's upload ids to their files (under s.mu).
func (s *Server) inputPaths(sp Spec) (map[string]string, error) {
	in := map[string]string{}
	for role, id := range map[string]string{"photo": sp.Photo, "audio": sp.Audio, "source": sp.Source,
		"target": sp.Target, "driver": sp.Driver, "file": sp.File} {
		if id == "" {
			continue
		}
		u, ok := s.uploads[id]
		if !ok {
			return nil, fmt.Errorf("studio: the %s (upload %s) was deleted", role, id)
		}
		in[role] = s.uploadPath(u)
		in[role+".name"] = u.Name
	}
	return in, nil
}

// execute runs the job's kind. A panic in a working package fails the job
// instead of taking the studio down with every other job.
func (s *Server) execute(ctx context.Context, id string, sp Spec, in map[string]string) (res *Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			// The page gets one line; the stack goes to the server's log.
			fmt.Fprintf(os.Stderr, "studio: job %s (%s) crashed: %v\n%s", id, sp.Kind, p, debug.Stack())
			err = fmt.Errorf("studio: %s job crashed: %v", sp.Kind, p)
		}
	}()
	if err := os.MkdirAll(s.jobDir(id), 0o755); err != nil {
		return nil, fmt.Errorf("studio: %w", err)
	}
	out := s.resultPath(id)
	switch sp.Kind {
	case "talk":
		return s.runTalk(ctx, id, sp, in, out)
	case "swap":
		return s.runSwap(ctx, id, sp, in, out)
	case "reenact":
		return s.runReenact(ctx, id, sp, in, out)
	case "verify":
		return s.runVerify(ctx, id, sp, in)
	}
	return nil, fmt.Errorf("studio: unknown job kind %q", sp.Kind)
}

func (s *Server) runTalk(ctx context.Context, id string, sp Spec, in map[string]string, out string) (*Result, error) {
	emo, err := animate.ParseEmotion(sp.Emotion)
	if err != nil {
		return nil, err
	}
	s.setStage(id, "analyse speech")
	sum, err := talk.Run(ctx, in["photo"], talk.Speech{Audio: in["audio"], Text: sp.Text}, out,
		talk.Options{Emotion: emo, Seed: sp.Seed, Still: sp.Still}, s.reporter(ctx, id, "render", "frames", 0, 100))
	if err != nil {
		return nil, err
	}
	return &Result{Video: true, Summary: sum.String()}, nil
}

func (s *Server) runReenact(ctx context.Context, id string, sp Spec, in map[string]string, out string) (*Result, error) {
	af, err := reenact.ParseAudioFrom(sp.AudioFrom)
	if err != nil {
		return nil, err
	}
	s.setStage(id, "track driver")
	sum, err := reenact.Run(ctx, in["driver"], in["target"], out,
		reenact.Options{Audio: af, TargetPose: sp.Pose != "driver", Limit: sp.Limit}, s.reporter(ctx, id, "render", "frames", 0, 100))
	if err != nil {
		return nil, err
	}
	return &Result{Video: true, Summary: sum.String()}, nil
}

// swapShare is the part of a swap's progress bar each stage fills.
var swapShare = map[string][2]float64{
	swapjob.StageExtractTarget: {0, 10},
	swapjob.StageExtractSource: {10, 20},
	swapjob.StageTrain:         {20, 85},
	swapjob.StageConvert:       {85, 100},
}

func (s *Server) runSwap(ctx context.Context, id string, sp Spec, in map[string]string, out string) (*Result, error) {
	p := swapjob.Presets[sp.Quality]
	if sp.Minutes > 0 {
		p.Train = time.Duration(sp.Minutes * float64(time.Minute))
	}
	if sp.Faces > 0 {
		p.Faces = sp.Faces
	}
	arch, err := swap.ArchByName(p.Arch)
	if err != nil {
		return nil, err
	}
	work := s.swapWork(id)
	model := swapjob.ModelDir(work)
	stage := func(name, unit string) progress.Reporter {
		share := swapShare[name]
		r := s.reporter(ctx, id, name, unit, share[0], share[1])
		if name == swapjob.StageTrain {
			// Training runs for a time, not a step count: its share of
			// the bar fills with the training time of all runs.
			r.budget, r.model = p.Train, model
			if st, err := swap.ReadState(model); err == nil {
				r.prior = st.Seconds
			}
		}
		return r
	}
	sum, err := swapjob.Run(ctx, in["source"], in["target"], out, work, swapjob.Options{
		Arch: arch, Train: p.Train, TrainTotal: true, Faces: p.Faces, Stage: stage, Hooks: []swap.Hook{watchHook()},
		Convert: convert.Options{Color: blend.Reinhard, Smoothing: 0.3, Limit: sp.Limit},
	})
	s.statPreviews(id, model)
	if err != nil {
		return nil, err
	}
	text := sum.Convert.String()
	if sum.Train != nil {
		text = fmt.Sprintf("trained to step %d (loss A %.4f B %.4f); %s", sum.Train.Step, sum.Train.Last.A, sum.Train.Last.B, text)
	}
	return &Result{Video: true, Summary: text}, nil
}

func (s *Server) runVerify(ctx context.Context, id string, sp Spec, in map[string]string) (*Result, error) {
	s.setStage(id, "verify")
	rep, err := verify.File(ctx, in["file"], 480)
	if err != nil {
		return nil, err
	}
	rep.File = in["file.name"] // the page names the upload, not the server's path
	wm := rep.Watermark
	text := fmt.Sprintf("no facesynth watermark found (confidence z=%.1f, threshold %.1f)", wm.Confidence, wm.Threshold)
	if wm.Found {
		text = fmt.Sprintf("facesynth watermark found (confidence z=%.1f, threshold %.1f)", wm.Confidence, wm.Threshold)
		if wm.PayloadValid {
			text += fmt.Sprintf(", payload v%d/%s", wm.Version, wm.ContentID)
		}
	}
	if rep.Synthetic {
		text += "; metadata labelled synthetic"
	}
	return &Result{Summary: text, Verify: rep}, nil
}

// Intervals of the studio's training hook.
const (
	previewInterval    = 15 * time.Second
	checkpointInterval = 10 * time.Minute
)

// watchHook keeps a swap's training visible and safe by the clock rather
// than by step counts, which differ a hundredfold between a CPU and a GPU:
// a preview grid and loss curve from the first step and then every
// previewInterval, and a checkpoint every checkpointInterval, so even a
// crashed studio resumes near where it was (a clean stop saves anyway).
func watchHook() swap.Hook {
	var lastPreview, lastSave time.Time
	return swap.Hook{Name: "studio", Every: 1, Run: func(r *swap.Run) error {
		now := time.Now()
		if lastSave.IsZero() {
			lastSave = now
		}
		if now.Sub(lastSave) >= checkpointInterval {
			lastSave = now
			if err := r.Save(); err != nil {
				return err
			}
		}
		if !lastPreview.IsZero() && now.Sub(lastPreview) < previewInterval {
			return nil
		}
		lastPreview = now
		img, err := r.Trainer.Preview(8)
		if err != nil {
			return err
		}
		if err := media.SaveImage(filepath.Join(r.Dir, swap.PreviewFile), img); err != nil {
			return err
		}
		return media.SaveImage(filepath.Join(r.Dir, swap.LossPlotFile), swap.LossPlot(r.History))
	}}
}

// setStage names what a job does before its first progress report.
func (s *Server) setStage(id, stage string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j, ok := s.jobs[id]; ok {
		j.Progress.Stage = stage
		s.touch(j)
	}
}

// statPreviews records the modification times of a swap's preview grid
// and loss curve, so the page knows when to fetch them again.
func (s *Server) statPreviews(id, model string) {
	var t [2]int64
	for i, name := range []string{swap.PreviewFile, swap.LossPlotFile} {
		if st, err := os.Stat(filepath.Join(model, name)); err == nil {
			t[i] = st.ModTime().UnixNano()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if j, ok := s.jobs[id]; ok && (j.Progress.Preview != t[0] || j.Progress.Loss != t[1]) {
		j.Progress.Preview, j.Progress.Loss = t[0], t[1]
		s.touch(j)
	}
}

// reporter is the progress.Reporter of one stage of a job: it fills the
// part lo..hi of the job's percentage.
type reporter struct {
	s        *Server
	ctx      context.Context
	id       string
	stage    string
	unit     string
	lo, hi   float64
	budget   time.Duration // with no total: the stage fills with time, of this budget
	prior    float64       // seconds of the budget spent by earlier runs
	model    string        // a swap's model folder, whose previews are watched
	start    time.Time
	lastStat time.Time
}

func (s *Server) reporter(ctx context.Context, id, stage, unit string, lo, hi float64) *reporter {
	return &reporter{s: s, ctx: ctx, id: id, stage: stage, unit: unit, lo: lo, hi: hi, start: time.Now()}
}

func (r *reporter) Report(done, total int, status string) {
	now := time.Now()
	frac := -1.0
	switch {
	case total > 0:
		frac = float64(done) / float64(total)
	case r.budget > 0:
		frac = (r.prior + now.Sub(r.start).Seconds()) / r.budget.Seconds()
	}
	if r.model != "" && now.Sub(r.lastStat) >= time.Second {
		r.lastStat = now
		r.s.statPreviews(r.id, r.model)
	}
	r.update(done, total, status, frac)
	if hold := r.s.hold; hold != nil {
		hold(r.ctx, r.id, done, total)
	}
}

// Done fills the stage's part of the bar, unless the job was stopped:
// working packages call Done on their way out either way.
func (r *reporter) Done() {
	if r.ctx.Err() != nil {
		return
	}
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if j, ok := r.s.jobs[r.id]; ok && j.State == Running {
		j.Progress.Percent = r.hi
		r.s.touch(j)
	}
}

func (r *reporter) update(done, total int, status string, frac float64) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	j, ok := r.s.jobs[r.id]
	rj := r.s.running[r.id]
	if !ok || rj == nil || j.State != Running {
		return
	}
	p := &j.Progress
	p.Stage, p.Done, p.Total, p.Unit = r.stage, done, total, r.unit
	if p.Status != "cancelling" {
		p.Status = status
	}
	if frac >= 0 {
		p.Percent = round1(r.lo + (r.hi-r.lo)*min(max(frac, 0), 1))
	}
	elapsed := time.Since(rj.start).Seconds()
	p.Elapsed = round1(elapsed)
	p.ETA = -1
	if p.Percent > 0 && p.Percent < 100 {
		p.ETA = round1(elapsed * (100 - p.Percent) / p.Percent)
	}
	r.s.touch(j)
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// oneLine keeps the first line of an error: tool output belongs in logs.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
