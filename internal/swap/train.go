package swap

import (
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/plot"
	"github.com/facesynth/facesynth/internal/progress"
	"github.com/facesynth/facesynth/internal/torch"
)

// Options of Train.
type Options struct {
	// Arch is the network; with Resume it may be left zero (the
	// checkpoint's is used) and must otherwise equal the checkpoint's.
	Arch   Arch
	Config Config // DefaultConfig() when zero; with Resume, the checkpoint's
	// Steps is the step count to train up to, counting a resumed
	// checkpoint's steps: a run stopped at 600 of --steps 1000 finishes
	// with another 400. 0: no limit.
	Steps int
	// Duration stops this run after so much training time (0: no limit).
	Duration     time.Duration
	PreviewEvery int // steps between preview and loss-curve images (default 100)
	SaveEvery    int // steps between checkpoints (default 500)
	Resume       bool
	Progress     progress.Reporter
	Hooks        []Hook // run after the built-in ones
}

// A Hook runs during training: after every Every-th step (Every 0: never
// periodically) and, with Final, once more when training stops for any
// reason but an error (done, time up, cancelled). Returning ErrStop ends
// training normally; any other error ends it with that error.
type Hook struct {
	Name  string
	Every int
	Final bool
	Run   func(r *Run) error
}

// ErrStop, returned by a hook, ends training without an error.
var ErrStop = errors.New("swap: stop")

// Run is the state of a training run that hooks see.
type Run struct {
	Trainer *Trainer
	Dir     string   // the model folder
	Last    StepLoss // the latest step's losses
	History []LossPoint
	Start   int     // the step this run started from
	Seconds float64 // training time over all runs, this one included
	Final   bool    // the hook runs because training stops

	facesA, facesB string
	acc            [2]float64 // loss sums since the last history point
	accN           int
	lastSave       int
	lastPreview    int
	started        time.Time
	before         float64 // Seconds of earlier runs
}

// historyEvery is the number of steps averaged into one loss-history point.
const historyEvery = 10

// Result is what a training run did.
type Result struct {
	Arch       Arch
	Start      int // step resumed from (0 for a new model)
	Step       int // step reached
	Last       StepLoss
	Seconds    float64 // this run's training time
	Checkpoint string  // state.json of the last checkpoint ("" if none)
}

// StepsPerSecond is this run's training speed.
func (r *Result) StepsPerSecond() float64 {
	if r.Seconds <= 0 {
		return 0
	}
	return float64(r.Step-r.Start) / r.Seconds
}

// Train trains a swap model on the extract folders dirA and dirB, writing
// checkpoints, previews and loss curves into modelDir. When ctx is
// cancelled (Ctrl-C) it finishes the current step, saves a checkpoint and
// returns ctx's error with the result. A new run refuses a folder that
// holds a checkpoint already; Resume continues it with the same step
// count, optimiser state and batch sequence.
func Train(ctx context.Context, dirA, dirB, modelDir string, o Options) (*Result, error) {
	if o.PreviewEvery <= 0 {
		o.PreviewEvery = 100
	}
	if o.SaveEvery <= 0 {
		o.SaveEvery = 500
	}
	if o.Steps < 0 || o.Duration < 0 {
		return nil, fmt.Errorf("swap: negative step count %d or duration %v", o.Steps, o.Duration)
	}
	rep := progress.Of(o.Progress)
	st, err := ReadState(modelDir)
	switch {
	case err == nil && !o.Resume:
		return nil, fmt.Errorf("swap: %s holds a checkpoint at step %d already: resume it or train into another folder", modelDir, st.Step)
	case err != nil && (o.Resume || !errors.Is(err, ErrNoCheckpoint)):
		return nil, err
	}
	arch, cfg := o.Arch, o.Config
	if st != nil {
		if arch.Name != "" && !arch.Equal(st.Arch) {
			return nil, fmt.Errorf("swap: %s: checkpoint is architecture %q, not %q", modelDir, st.Arch.Name, arch.Name)
		}
		arch = st.Arch
		if cfg.Batch == 0 {
			cfg = st.Config
		}
	}
	if arch.Name == "" {
		return nil, errors.New("swap: no architecture given")
	}
	if cfg.Batch == 0 {
		cfg = DefaultConfig()
	}
	if err := arch.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}

	if err := os.MkdirAll(modelDir, 0o755); err != nil {
		return nil, fmt.Errorf("swap: model folder: %w", err)
	}
	setA, err := LoadFaceSet(ctx, dirA, arch.Size)
	if err != nil {
		return nil, err
	}
	setB, err := LoadFaceSet(ctx, dirB, arch.Size)
	if err != nil {
		return nil, err
	}

	// libtorch gives every OS thread that calls it a worker pool of its
	// own; one locked thread keeps it to one pool.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	torch.ManualSeed(cfg.Seed)
	m, err := New(arch)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	t, err := NewTrainer(m, setA, setB, cfg)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	r := &Run{Trainer: t, Dir: modelDir, facesA: dirA, facesB: dirB}
	if st != nil {
		if err := t.Restore(modelDir, st); err != nil {
			return nil, err
		}
		r.History, r.before, r.lastSave = st.History, st.Seconds, st.Step
	}
	r.Start = t.step

	hooks := []Hook{
		{Name: "checkpoint", Every: o.SaveEvery, Final: true, Run: saveHook},
		{Name: "preview", Every: o.PreviewEvery, Final: true, Run: previewHook},
	}
	hooks = append(hooks, o.Hooks...)
	res := &Result{Arch: arch, Start: r.Start}
	fail := func(err error) (*Result, error) {
		rep.Done()
		res.Step, res.Last, res.Seconds = t.step, r.Last, time.Since(r.started).Seconds()
		return res, err
	}
	r.started = time.Now()
	stopReason := error(nil)
	for {
		if o.Steps > 0 && t.step >= o.Steps {
			break
		}
		if o.Duration > 0 && time.Since(r.started) >= o.Duration {
			break
		}
		if err := ctx.Err(); err != nil {
			stopReason = err
			break
		}
		l, err := t.Step()
		if err != nil {
			if errors.Is(err, ErrNaN) {
				err = fmt.Errorf("%w (last checkpoint: step %d)", err, r.lastSave)
			}
			return fail(err)
		}
		r.record(l)
		rep.Report(t.step-r.Start, max(o.Steps-r.Start, 0), r.status(o.Duration))
		stop := false
		for _, h := range hooks {
			if h.Every > 0 && t.step%h.Every == 0 {
				if err := h.Run(r); errors.Is(err, ErrStop) {
					stop = true
				} else if err != nil {
					return fail(fmt.Errorf("swap: %s at step %d: %w", h.Name, t.step, err))
				}
			}
		}
		if stop {
			break
		}
	}
	rep.Done()
	res.Seconds = time.Since(r.started).Seconds()
	r.Final = true
	r.flush()
	res.Step, res.Last = t.step, r.Last
	for _, h := range hooks {
		if h.Final {
			if err := h.Run(r); err != nil && !errors.Is(err, ErrStop) {
				return res, fmt.Errorf("swap: %s at step %d: %w", h.Name, t.step, err)
			}
		}
	}
	if r.lastSave > 0 || st != nil {
		res.Checkpoint = filepath.Join(modelDir, StateFile)
	}
	return res, stopReason
}

// status is the progress line's text: the losses, the step count when
// resumed (the bar counts this run's steps, so that its rate and ETA are
// right), and the time left of a time budget.
func (r *Run) status(budget time.Duration) string {
	s := fmt.Sprintf("loss A %.4f B %.4f", r.Last.A, r.Last.B)
	if r.Start > 0 {
		s = fmt.Sprintf("step %d, %s", r.Trainer.step, s)
	}
	if budget > 0 {
		s += fmt.Sprintf(", %v left", max(budget-time.Since(r.started), 0).Round(time.Second))
	}
	return s
}

func (r *Run) record(l StepLoss) {
	r.Last = l
	r.acc[A] += l.A
	r.acc[B] += l.B
	r.accN++
	r.Seconds = r.before + time.Since(r.started).Seconds()
	if r.Trainer.step%historyEvery == 0 {
		r.flush()
	}
}

// flush turns the losses summed since the last history point into one.
func (r *Run) flush() {
	if r.accN == 0 {
		return
	}
	n := float64(r.accN)
	r.History = append(r.History, LossPoint{Step: r.Trainer.step, A: r.acc[A] / n, B: r.acc[B] / n})
	r.acc, r.accN = [2]float64{}, 0
}

// Save writes a checkpoint of the run now (unless one of this step exists).
func (r *Run) Save() error {
	if r.lastSave == r.Trainer.step {
		return nil
	}
	r.flush() // so the saved history reaches the saved step
	r.Seconds = r.before + time.Since(r.started).Seconds()
	st := State{FacesA: absPath(r.facesA), FacesB: absPath(r.facesB), Seconds: r.Seconds, History: r.History}
	if err := r.Trainer.SaveCheckpoint(r.Dir, st); err != nil {
		return err
	}
	r.lastSave = r.Trainer.step
	return nil
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func saveHook(r *Run) error { return r.Save() }

// previewHook writes the preview grid and the loss curve.
func previewHook(r *Run) error {
	if r.Trainer.step == 0 || r.Trainer.step == r.lastPreview {
		return nil
	}
	r.lastPreview = r.Trainer.step
	img, err := r.Trainer.Preview(previewFaces)
	if err != nil {
		return err
	}
	if err := media.SaveImage(filepath.Join(r.Dir, PreviewFile), img); err != nil {
		return err
	}
	return media.SaveImage(filepath.Join(r.Dir, LossPlotFile), LossPlot(r.History))
}

// LossPlot draws a loss history as a chart with a logarithmic loss axis.
func LossPlot(h []LossPoint) *image.RGBA {
	a, b := plot.Series{Name: "loss A", Color: plot.Blue}, plot.Series{Name: "loss B", Color: plot.Orange}
	for _, p := range h {
		a.X, a.Y = append(a.X, float64(p.Step)), append(a.Y, p.A)
		b.X, b.Y = append(b.X, float64(p.Step)), append(b.Y, p.B)
	}
	title := "SWAP TRAINING LOSS"
	if n := len(h); n > 0 {
		title = fmt.Sprintf("LOSS AT STEP %d: A %.4f B %.4f", h[n-1].Step, h[n-1].A, h[n-1].B)
	}
	return plot.Lines([]plot.Series{a, b}, plot.Options{Width: 800, Height: 480, LogY: true, Title: title, XLabel: "STEP"})
}
