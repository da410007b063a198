package talkgan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/facesynth/facesynth/internal/dataset"
	"github.com/facesynth/facesynth/internal/fsutil"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/plot"
	"github.com/facesynth/facesynth/internal/progress"
	"github.com/facesynth/facesynth/internal/torch"
)

// Config are the hyper-parameters; a checkpoint keeps them.
type Config struct {
	Frames int     `json:"frames"` // frames per training sequence
	Batch  int     `json:"batch"`  // sequences per step
	LRG    float64 `json:"lr_g"`   // Adam (β = 0.5, 0.999) learning rates
	LRD    float64 `json:"lr_d"`
	// Loss weights of the generator: the three adversarial terms and
	// the L1 reconstruction of the lower half of the face (mean absolute
	// error of [-1, 1] pixels). The L1 term dominates, as in the paper;
	// the adversarial ones sharpen and time what it blurs.
	WFrame float64 `json:"w_frame"`
	WSeq   float64 `json:"w_seq"`
	WSync  float64 `json:"w_sync"`
	WL1    float64 `json:"w_l1"`
	Seed   uint64  `json:"seed"`
}

// DefaultConfig is a small CPU setting: batches of 4 sequences of 16
// frames (0.64 s at 25 fps).
func DefaultConfig() Config {
	return Config{Frames: 16, Batch: 4, LRG: 1e-4, LRD: 1e-4, WFrame: 1, WSeq: 0.2, WSync: 0.8, WL1: 100, Seed: 1}
}

func (c Config) validate() error {
	switch {
	case c.Frames < syncFrames || c.Frames > 256:
		return fmt.Errorf("talkgan: %d frames per sequence, want %d..256", c.Frames, syncFrames)
	case c.Batch < 1:
		return fmt.Errorf("talkgan: batch %d, want ≥ 1", c.Batch)
	case !(c.LRG > 0) || !(c.LRD > 0):
		return fmt.Errorf("talkgan: learning rates %v, %v must be positive", c.LRG, c.LRD)
	case c.WFrame < 0 || c.WSeq < 0 || c.WSync < 0 || c.WL1 < 0:
		return errors.New("talkgan: negative loss weight")
	}
	return nil
}

// Losses are one step's losses.
type Losses struct {
	G     float64 `json:"g"`     // the generator's weighted total
	D     float64 `json:"d"`     // the three discriminators' sum
	L1    float64 `json:"l1"`    // lower-face L1 (unweighted)
	Frame float64 `json:"frame"` // generator's adversarial terms (unweighted)
	Seq   float64 `json:"seq"`
	Sync  float64 `json:"sync"`
}

// LossPoint is the mean of Losses over the steps since the previous point.
type LossPoint struct {
	Step int `json:"step"`
	Losses
}

// Trainer holds the networks and optimisers of a run.
type Trainer struct {
	Config Config
	params *torch.Params // "g." generator, "d." discriminators
	gen    *Generator
	frameD *FrameDisc
	seqD   *SeqDisc
	syncD  *SyncDisc
	optG   *torch.Adam
	optD   *torch.Adam
	data   *sampler
	step   int
}

// NewTrainer builds freshly initialised networks (from the seeded
// generator) over clips.
func newTrainer(clips []*clip, cfg Config) (*Trainer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	data, err := newSampler(clips, cfg.Frames, cfg.Seed)
	if err != nil {
		return nil, err
	}
	torch.ManualSeed(cfg.Seed)
	p := torch.NewParams()
	d := p.Sub("d")
	t := &Trainer{Config: cfg, params: p, gen: NewGenerator(p.Sub("g")),
		frameD: NewFrameDisc(d.Sub("frame")), seqD: NewSeqDisc(d.Sub("seq")), syncD: NewSyncDisc(d.Sub("sync")), data: data}
	if err := p.Err(); err != nil {
		p.Close()
		return nil, err
	}
	adam := func(lr float64) torch.AdamConfig { c := torch.AdamDefaults(lr); c.Beta1 = 0.5; return c }
	if t.optG, err = torch.NewAdam(p.Sub("g").Trainable(), adam(cfg.LRG)); err == nil {
		t.optD, err = torch.NewAdam(d.Trainable(), adam(cfg.LRD))
	}
	if err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// Close frees the networks and optimiser state.
func (t *Trainer) Close() {
	if t.optG != nil {
		t.optG.Close()
	}
	if t.optD != nil {
		t.optD.Close()
	}
	t.params.Close()
}

// Step is the number of steps taken.
func (t *Trainer) Step() int { return t.step }

// ErrNaN is returned when a loss stops being a number.
var ErrNaN = errors.New("talkgan: loss is not a number")

// TrainStep runs one discriminator update and one generator update.
func (t *Trainer) TrainStep() (Losses, error) {
	c := t.Config
	b := t.data.batch(t.step, c.Batch)
	n, tt := int64(b.n), int64(b.t)
	s := torch.NewScope()
	defer s.Close()
	still := torch.FromFloat32(b.still, n, 3, FaceSize, FaceSize)
	real := torch.FromFloat32(b.real, n, tt, 3, FaceSize, FaceSize)
	speech := torch.FromFloat32(b.speech, n, tt, WindowSize)
	noise := torch.FromFloat32(b.noise, n, tt, NoiseDim)
	fake := t.gen.Forward(still, speech, noise)

	stills := torch.Reshape(torch.Expand(torch.Unsqueeze(still, 1), n, tt, 3, FaceSize, FaceSize), n*tt, 3, FaceSize, FaceSize)
	flat := func(v *torch.Tensor) *torch.Tensor { return torch.Reshape(v, n*tt, 3, FaceSize, FaceSize) }
	// The sync windows: syncFrames frames of each sequence and the speech
	// of their middle frame.
	window := func(v *torch.Tensor) *torch.Tensor {
		ws := make([]*torch.Tensor, b.n)
		for k := range ws {
			ws[k] = torch.Narrow(torch.Select(v, 0, int64(k)), 0, int64(b.syncAt[k]), syncFrames)
		}
		return torch.Stack(ws, 0)
	}
	winSpeech := func() *torch.Tensor {
		ws := make([]*torch.Tensor, b.n)
		for k := range ws {
			ws[k] = torch.Select(torch.Select(speech, 0, int64(k)), 0, int64(b.syncAt[k]+syncFrames/2))
		}
		return torch.Stack(ws, 0)
	}()
	offSpeech := torch.FromFloat32(b.offSync, n, WindowSize)
	ones := func(m int64) *torch.Tensor { return torch.Ones(m) }
	zeros := func(m int64) *torch.Tensor { return torch.Zeros(m) }

	// Discriminators: real is real, fake (detached) is fake, and real
	// mouths with shifted speech are off sync.
	fakeD := torch.Detach(fake)
	syncReal, _ := t.syncD.Forward(window(real), winSpeech)
	syncOff, _ := t.syncD.Forward(window(real), offSpeech)
	syncFake, _ := t.syncD.Forward(window(fakeD), winSpeech)
	dFrame := torch.Add(torch.BCEWithLogits(t.frameD.Forward(flat(real), stills), ones(n*tt)),
		torch.BCEWithLogits(t.frameD.Forward(flat(fakeD), stills), zeros(n*tt)))
	dSeq := torch.Add(torch.BCEWithLogits(t.seqD.Forward(real, speech), ones(n)),
		torch.BCEWithLogits(t.seqD.Forward(fakeD, speech), zeros(n)))
	dSync := torch.Add(torch.BCEWithLogits(syncReal, ones(n)),
		torch.MulScalar(torch.Add(torch.BCEWithLogits(syncOff, zeros(n)), torch.BCEWithLogits(syncFake, zeros(n))), 0.5))
	dLoss := torch.Add(torch.Add(dFrame, dSeq), dSync)
	if err := t.optD.Minimize(dLoss); err != nil {
		return Losses{}, err
	}

	// Generator: fool all three, and rebuild the lower face.
	gSync, _ := t.syncD.Forward(window(fake), winSpeech)
	advFrame := torch.BCEWithLogits(t.frameD.Forward(flat(fake), stills), ones(n*tt))
	advSeq := torch.BCEWithLogits(t.seqD.Forward(fake, speech), ones(n))
	advSync := torch.BCEWithLogits(gSync, ones(n))
	lower := func(v *torch.Tensor) *torch.Tensor { return torch.Narrow(v, 3, FaceSize/2, FaceSize/2) }
	l1 := torch.L1Loss(lower(fake), lower(real))
	gLoss := torch.Add(torch.Add(torch.MulScalar(advFrame, c.WFrame), torch.MulScalar(advSeq, c.WSeq)),
		torch.Add(torch.MulScalar(advSync, c.WSync), torch.MulScalar(l1, c.WL1)))
	if err := t.optG.Minimize(gLoss); err != nil {
		return Losses{}, err
	}
	var l Losses
	for _, v := range []struct {
		dst *float64
		src *torch.Tensor
	}{{&l.G, gLoss}, {&l.D, dLoss}, {&l.L1, l1}, {&l.Frame, advFrame}, {&l.Seq, advSeq}, {&l.Sync, advSync}} {
		x, err := v.src.Item()
		if err != nil {
			return Losses{}, err
		}
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return Losses{}, fmt.Errorf("%w at step %d", ErrNaN, t.step+1)
		}
		*v.dst = float64(x)
	}
	t.step++
	return l, nil
}

// A model folder holds one checkpoint, committed by state.json last (as
// package swap does):
//
//	state.json                      step, config, data, loss history
//	weights-00000100.safetensors    generator ("g.…") and discriminators ("d.…")
//	optim-g-00000100.safetensors    Adam state of the generator
//	optim-d-00000100.safetensors    Adam state of the discriminators
//	preview.png, loss.png           real and generated frames; the loss curves
const (
	StateFile     = "state.json"
	PreviewFile   = "preview.png"
	LossPlotFile  = "loss.png"
	stateFormat   = "facesynth-talkgan"
	stateVersion  = 1
	historyPeriod = 10
)

// ErrNoCheckpoint is the error of ReadState for a folder without one.
var ErrNoCheckpoint = errors.New("no checkpoint")

// State is state.json.
type State struct {
	Format  string      `json:"format"`
	Version int         `json:"version"`
	Step    int         `json:"step"`
	Config  Config      `json:"config"`
	Data    string      `json:"data"`
	Weights string      `json:"weights"`
	OptimG  string      `json:"optim_g"`
	OptimD  string      `json:"optim_d"`
	Seconds float64     `json:"train_seconds"`
	History []LossPoint `json:"history"`
}

// ReadState reads a model folder's state.json.
func ReadState(dir string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("talkgan: %s: %w", dir, ErrNoCheckpoint)
	}
	if err != nil {
		return nil, fmt.Errorf("talkgan: %w", err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil || st.Format != stateFormat {
		return nil, fmt.Errorf("talkgan: %s: not a talkgan checkpoint", dir)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("talkgan: %s: unsupported checkpoint version %d", dir, st.Version)
	}
	for _, f := range []string{st.Weights, st.OptimG, st.OptimD} {
		if f == "" || f != filepath.Base(f) || strings.HasPrefix(f, ".") {
			return nil, fmt.Errorf("talkgan: %s: bad file name %q in %s", dir, f, StateFile)
		}
	}
	if err := st.Config.validate(); err != nil {
		return nil, err
	}
	return &st, nil
}

func (t *Trainer) save(dir string, st State) error {
	st.Format, st.Version, st.Step, st.Config = stateFormat, stateVersion, t.step, t.Config
	st.Weights = fmt.Sprintf("weights-%08d.safetensors", t.step)
	st.OptimG = fmt.Sprintf("optim-g-%08d.safetensors", t.step)
	st.OptimD = fmt.Sprintf("optim-d-%08d.safetensors", t.step)
	meta := map[string]string{"format": stateFormat, "step": fmt.Sprint(t.step)}
	if err := t.params.Save(filepath.Join(dir, st.Weights), meta); err != nil {
		return err
	}
	if err := t.optG.Save(filepath.Join(dir, st.OptimG)); err != nil {
		return err
	}
	if err := t.optD.Save(filepath.Join(dir, st.OptimD)); err != nil {
		return err
	}
	js, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		return err
	}
	if err := fsutil.WriteFile(filepath.Join(dir, StateFile), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("talkgan: %w", err)
	}
	// The new checkpoint is committed: drop the older ones.
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		n := e.Name()
		old := strings.HasSuffix(n, ".safetensors") && (strings.HasPrefix(n, "weights-") || strings.HasPrefix(n, "optim-"))
		if old && n != st.Weights && n != st.OptimG && n != st.OptimD {
			os.Remove(filepath.Join(dir, n))
		}
	}
	return nil
}

func (t *Trainer) restore(dir string, st *State) error {
	if _, err := t.params.Load(filepath.Join(dir, st.Weights)); err != nil {
		return fmt.Errorf("talkgan: checkpoint: %w", err)
	}
	if err := t.optG.Load(filepath.Join(dir, st.OptimG)); err != nil {
		return fmt.Errorf("talkgan: checkpoint: %w", err)
	}
	if err := t.optD.Load(filepath.Join(dir, st.OptimD)); err != nil {
		return fmt.Errorf("talkgan: checkpoint: %w", err)
	}
	if t.optG.Steps() != int64(st.Step) {
		return fmt.Errorf("talkgan: checkpoint %s: optimiser at step %d, state.json at %d", dir, t.optG.Steps(), st.Step)
	}
	t.step = st.Step
	return nil
}

// TrainOptions are Train's settings.
type TrainOptions struct {
	Config       Config // DefaultConfig() when zero; a resumed run keeps the checkpoint's
	Steps        int    // train up to this step count, resumed steps included (0: no limit)
	Duration     time.Duration
	SaveEvery    int // steps between checkpoints (default 200)
	PreviewEvery int // steps between preview.png and loss.png (default 50)
	Resume       bool
	Progress     progress.Reporter
}

// TrainResult is what Train did.
type TrainResult struct {
	Start, Step int
	Last        Losses
	Seconds     float64 // this run's training time
	Clips       int
}

// Train trains the GAN on a dataset folder (package dataset) into modelDir,
// with checkpoints, previews and loss curves. Cancelling ctx saves a
// checkpoint and returns ctx's error. A folder holding a checkpoint is
// refused unless Resume, which continues it exactly: the same batches
// and noise follow (they depend on the seed and step alone).
func Train(ctx context.Context, dataDir, modelDir string, o TrainOptions) (*TrainResult, error) {
	if o.SaveEvery <= 0 {
		o.SaveEvery = 200
	}
	if o.PreviewEvery <= 0 {
		o.PreviewEvery = 50
	}
	if !torch.Available {
		return nil, torch.ErrUnavailable
	}
	st, err := ReadState(modelDir)
	switch {
	case err == nil && !o.Resume:
		return nil, fmt.Errorf("talkgan: %s holds a checkpoint at step %d already: resume it or train into another folder", modelDir, st.Step)
	case err != nil && (o.Resume || !errors.Is(err, ErrNoCheckpoint)):
		return nil, err
	}
	cfg := o.Config
	if st != nil {
		cfg = st.Config
	}
	if cfg == (Config{}) {
		cfg = DefaultConfig()
	}
	samples, err := dataset.Open(dataDir)
	if err != nil {
		return nil, err
	}
	clips, err := loadClips(samples)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(modelDir, 0o755); err != nil {
		return nil, fmt.Errorf("talkgan: %w", err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t, err := newTrainer(clips, cfg)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	state := State{Data: absPath(dataDir)}
	if st != nil {
		if err := t.restore(modelDir, st); err != nil {
			return nil, err
		}
		state.History, state.Seconds = st.History, st.Seconds
	}
	rep := progress.Of(o.Progress)
	res := &TrainResult{Start: t.step, Clips: len(clips)}
	started := time.Now()
	var acc Losses
	accN, lastSave, before := 0, t.step, state.Seconds
	flush := func() {
		if accN == 0 {
			return
		}
		k := 1 / float64(accN)
		state.History = append(state.History, LossPoint{Step: t.step, Losses: Losses{acc.G * k, acc.D * k, acc.L1 * k, acc.Frame * k, acc.Seq * k, acc.Sync * k}})
		acc, accN = Losses{}, 0
	}
	save := func() error {
		flush()
		state.Seconds = before + time.Since(started).Seconds()
		if err := t.save(modelDir, state); err != nil {
			return err
		}
		lastSave = t.step
		return t.preview(modelDir, state.History)
	}
	var stop error
	for (o.Steps == 0 || t.step < o.Steps) && (o.Duration == 0 || time.Since(started) < o.Duration) {
		if err := ctx.Err(); err != nil {
			stop = err
			break
		}
		l, err := t.TrainStep()
		if err != nil {
			rep.Done()
			return res, fmt.Errorf("talkgan: step %d: %w (last checkpoint: step %d)", t.step+1, err, lastSave)
		}
		res.Last, res.Step = l, t.step
		acc = Losses{acc.G + l.G, acc.D + l.D, acc.L1 + l.L1, acc.Frame + l.Frame, acc.Seq + l.Seq, acc.Sync + l.Sync}
		accN++
		if t.step%historyPeriod == 0 {
			flush()
		}
		rep.Report(t.step-res.Start, max(o.Steps-res.Start, 0), fmt.Sprintf("G %.3f D %.3f L1 %.4f", l.G, l.D, l.L1))
		if t.step%o.SaveEvery == 0 {
			if err := save(); err != nil {
				return res, err
			}
		} else if t.step%o.PreviewEvery == 0 {
			if err := t.preview(modelDir, state.History); err != nil {
				return res, err
			}
		}
	}
	rep.Done()
	res.Step = t.step
	if lastSave != t.step {
		if err := save(); err != nil {
			return res, err
		}
	}
	res.Seconds = time.Since(started).Seconds()
	return res, stop
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// preview writes preview.png — a row of real frames of the first clip over
// the generator's frames for the same still, speech and zero noise — and
// loss.png.
func (t *Trainer) preview(dir string, h []LossPoint) error {
	const n = 8
	c := t.data.clips[t.data.pos[0].c]
	start := t.data.pos[0].start
	var still []float32
	for _, f := range c.faces {
		if f != nil {
			still = f
			break
		}
	}
	frames, err := t.generate(still, c, start, n)
	if err != nil {
		return err
	}
	grid := image.NewRGBA(image.Rect(0, 0, n*FaceSize, 2*FaceSize))
	for i := 0; i < n; i++ {
		draw.Draw(grid, image.Rect(i*FaceSize, 0, (i+1)*FaceSize, FaceSize), planesImage(c.faces[start+i]), image.Point{}, draw.Src)
		draw.Draw(grid, image.Rect(i*FaceSize, FaceSize, (i+1)*FaceSize, 2*FaceSize), frames[i], image.Point{}, draw.Src)
	}
	if err := media.SaveImage(filepath.Join(dir, PreviewFile), grid); err != nil {
		return err
	}
	return media.SaveImage(filepath.Join(dir, LossPlotFile), lossPlot(h))
}

// generate runs the generator in evaluation mode on n frames of c from
// frame start, with zero noise.
func (t *Trainer) generate(still []float32, c *clip, start, n int) ([]*image.RGBA, error) {
	t.params.SetTraining(false)
	defer t.params.SetTraining(true)
	return runGenerator(t.gen, still, c, start, n)
}

func runGenerator(g *Generator, still []float32, c *clip, start, n int) ([]*image.RGBA, error) {
	speech := make([]float32, n*WindowSize)
	for i := 0; i < n; i++ {
		c.speechAt(speech[i*WindowSize:(i+1)*WindowSize], start+i, 0)
	}
	var out []float32
	var err error
	torch.NoGrad(func() {
		s := torch.NewScope()
		defer s.Close()
		f := g.Forward(torch.FromFloat32(still, 1, 3, FaceSize, FaceSize),
			torch.FromFloat32(speech, 1, int64(n), WindowSize), torch.Zeros(1, int64(n), NoiseDim))
		out, err = f.Float32s()
	})
	if err != nil {
		return nil, err
	}
	const face = 3 * FaceSize * FaceSize
	imgs := make([]*image.RGBA, n)
	for i := range imgs {
		imgs[i] = planesImage(out[i*face : (i+1)*face])
	}
	return imgs, nil
}

func lossPlot(h []LossPoint) *image.RGBA {
	g := plot.Series{Name: "generator", Color: plot.Blue}
	d := plot.Series{Name: "discriminators", Color: plot.Orange}
	l1 := plot.Series{Name: "lower-face L1 x100", Color: plot.Green}
	for _, p := range h {
		x := float64(p.Step)
		g.X, g.Y = append(g.X, x), append(g.Y, p.G)
		d.X, d.Y = append(d.X, x), append(d.Y, p.D)
		l1.X, l1.Y = append(l1.X, x), append(l1.Y, 100*p.L1)
	}
	return plot.Lines([]plot.Series{g, d, l1}, plot.Options{Width: 800, Height: 480, LogY: true, Title: "TALKGAN TRAINING LOSS", XLabel: "STEP"})
}
