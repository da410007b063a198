package fewshot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/facesynth/facesynth/internal/fsutil"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/plot"
	"github.com/facesynth/facesynth/internal/progress"
	"github.com/facesynth/facesynth/internal/torch"
)

// Config are the meta-learning settings, saved with the model.
type Config struct {
	Shots int `json:"shots"` // K: frames embedded per episode (the paper meta-learns with 8)
	Batch int `json:"batch"` // episodes per step
	// Adam learning rates, β = (0.5, 0.999): one for E, G and P, one for D.
	LRG float64 `json:"lr_g"`
	LRD float64 `json:"lr_d"`
	// Loss weights. The paper's content loss compares VGG19 and VGGFace
	// features; those weights cannot be fetched here, so the content term
	// is a face-weighted L1 plus DSSIM, and D's feature matching (the
	// paper's L_FM) carries the perceptual part.
	L1    float64 `json:"l1"`
	DSSIM float64 `json:"dssim"`
	FM    float64 `json:"fm"`
	Match float64 `json:"match"` // ‖W_i − ê_i‖₁, mean over dimensions
	// Frames kept per video, spread over it (memory: 12 KB each).
	Frames int    `json:"frames_per_video"`
	Seed   uint64 `json:"seed"` // initial weights and episodes
}

// DefaultConfig: K = 4 and two episodes per step, which runs at a few
// steps a second on two cores.
func DefaultConfig() Config {
	return Config{Shots: 4, Batch: 2, LRG: 2e-4, LRD: 2e-4, L1: 20, DSSIM: 5, FM: 10, Match: 2, Frames: 100, Seed: 1}
}

func (c Config) validate() error {
	if c.Shots >= 1 && c.Frames < c.Shots+1 {
		return fmt.Errorf("fewshot: K = %d shots and a frame to draw need %d frames per video; %d are kept (--frames)", c.Shots, c.Shots+1, c.Frames)
	}
	if c.Shots < 1 || c.Batch < 1 || !(c.LRG > 0) || !(c.LRD > 0) || c.L1 < 0 || c.DSSIM < 0 || c.FM < 0 || c.Match < 0 || c.Frames < c.Shots+1 {
		return fmt.Errorf("fewshot: bad config %+v", c)
	}
	return nil
}

// Options control MetaTrain.
type Options struct {
	Config    Config        // DefaultConfig() when zero; a resumed run keeps the checkpoint's
	Steps     int           // train up to this many steps in all (0: no limit)
	Duration  time.Duration // stop this run after so long (0: no limit)
	SaveEvery int           // steps between checkpoints (default 200)
	Resume    bool
	Progress  progress.Reporter
}

// State is the model folder's state.json.
type State struct {
	Format  string      `json:"format"`
	Step    int         `json:"step"`
	Config  Config      `json:"config"`
	Data    string      `json:"data"`
	Videos  []string    `json:"videos"` // W's columns, in order
	Seconds float64     `json:"seconds"`
	History []LossPoint `json:"history"`
}

// LossPoint is the mean losses over ten steps.
type LossPoint struct {
	Step  int     `json:"step"`
	L1    float64 `json:"l1"`    // mean absolute error inside the face, 0..1
	G     float64 `json:"g_adv"` // −D(x̂)
	D     float64 `json:"d"`     // hinge
	FM    float64 `json:"fm"`
	Match float64 `json:"match"`
}

const (
	stateFile   = "state.json"
	weightsFile = "weights.safetensors"
	optGFile    = "optimizer-g.safetensors"
	optDFile    = "optimizer-d.safetensors"
	PreviewFile = "preview.png"
	LossFile    = "loss.png"
	format      = "facesynth-fewshot-1"
)

// Errors a caller may want to tell apart.
var (
	ErrNotModel = errors.New("fewshot: not a few-shot model (train one with facesynth train fewshot)")
	ErrNoFace   = errors.New("no face found")
)

// MetaTrain meta-learns E, G, P and D on the videos of a dataset folder
// (facesynth dataset build), into modelDir: each step takes Batch
// episodes; an episode picks a video, embeds K of its frames and draws
// another from its sketch. It writes a checkpoint, preview and loss plot
// every SaveEvery steps and when it stops (done, time up, or ctx
// cancelled: the last step is kept and can be resumed; a resumed run ends
// with weights byte-identical to an uninterrupted one).
func MetaTrain(ctx context.Context, data, modelDir string, o Options) (*State, error) {
	runtime.LockOSThread() // libtorch's thread pool belongs to this thread
	defer runtime.UnlockOSThread()
	abs, _ := filepath.Abs(data)
	st := &State{Format: format, Config: o.Config, Data: abs}
	if st.Config == (Config{}) {
		st.Config = DefaultConfig()
	}
	old, err := ReadState(modelDir)
	switch {
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return nil, err
	case old != nil && !o.Resume:
		return nil, fmt.Errorf("fewshot: %s holds a checkpoint at step %d; resume it (--resume) or choose another folder", modelDir, old.Step)
	case old != nil:
		st = old
	}
	c := st.Config
	if err := c.validate(); err != nil {
		return nil, err
	}
	videos, err := LoadDataset(ctx, data, c.Frames, c.Shots+1, nil)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(videos))
	for i, v := range videos {
		names[i] = v.Name
	}
	if st.Step == 0 {
		st.Videos = names
	} else if !slices.Equal(st.Videos, names) {
		return nil, fmt.Errorf("fewshot: resume: %s has other videos than the checkpoint was trained on (%d now, %d then)", data, len(names), len(st.Videos))
	}
	if o.SaveEvery <= 0 {
		o.SaveEvery = 200
	}

	torch.ManualSeed(c.Seed)
	m, err := newModel(len(videos))
	if err != nil {
		return nil, err
	}
	defer m.Close()
	optG, optD, err := m.optimizers(c)
	if err != nil {
		return nil, err
	}
	defer optG.Close()
	defer optD.Close()
	if st.Step > 0 {
		if err := m.load(modelDir); err != nil {
			return nil, fmt.Errorf("fewshot: resume: %w", err)
		}
		if err := optG.Load(filepath.Join(modelDir, optGFile)); err != nil {
			return nil, fmt.Errorf("fewshot: resume: %w", err)
		}
		if err := optD.Load(filepath.Join(modelDir, optDFile)); err != nil {
			return nil, fmt.Errorf("fewshot: resume: %w", err)
		}
	}
	if err := os.MkdirAll(modelDir, 0o755); err != nil {
		return nil, fmt.Errorf("fewshot: %w", err)
	}

	rep := progress.Of(o.Progress)
	b := newBatch(c.Batch, c.Shots)
	start := time.Now()
	before := st.Seconds
	var acc LossPoint
	var accN int
	save := func() error {
		st.Seconds = before + time.Since(start).Seconds()
		return saveCheckpoint(modelDir, m, optG, optD, st, videos)
	}
	for {
		if (o.Steps > 0 && st.Step >= o.Steps) || (o.Duration > 0 && time.Since(start) >= o.Duration) || ctx.Err() != nil {
			break
		}
		rng := rand.New(rand.NewPCG(c.Seed, uint64(st.Step)))
		for e := 0; e < c.Batch; e++ {
			v := rng.IntN(len(videos))
			b.fill(e, v, videos[v].Shots, pick(rng, len(videos[v].Shots), c.Shots+1))
		}
		l, err := m.metaStep(optG, optD, b, c)
		if err != nil {
			return nil, fmt.Errorf("fewshot: step %d: %w", st.Step+1, err)
		}
		st.Step++
		acc = LossPoint{L1: acc.L1 + l.L1, G: acc.G + l.G, D: acc.D + l.D, FM: acc.FM + l.FM, Match: acc.Match + l.Match}
		if accN++; accN == 10 {
			n := float64(accN)
			st.History = append(st.History, LossPoint{Step: st.Step, L1: acc.L1 / n, G: acc.G / n, D: acc.D / n, FM: acc.FM / n, Match: acc.Match / n})
			acc, accN = LossPoint{}, 0
		}
		status := fmt.Sprintf("L1 %.4f G %.3f D %.3f FM %.3f match %.3f", l.L1, l.G, l.D, l.FM, l.Match)
		if o.Steps > 0 {
			rep.Report(st.Step, o.Steps, status)
		} else if o.Duration > 0 {
			rep.Report(int(time.Since(start)/time.Second), int(o.Duration/time.Second), status)
		}
		if st.Step%o.SaveEvery == 0 {
			if err := save(); err != nil {
				return nil, err
			}
		}
	}
	if err := save(); err != nil {
		return nil, err
	}
	rep.Done()
	return st, ctx.Err()
}

// pick draws k distinct indices below n (a partial Fisher–Yates shuffle).
func pick(rng *rand.Rand, n, k int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	for i := 0; i < k; i++ {
		j := i + rng.IntN(n-i)
		idx[i], idx[j] = idx[j], idx[i]
	}
	return idx[:k]
}

// batch holds a step's episodes as planar float32: for each episode K
// embedded frames with their sketches, and one target with its sketch and
// loss weight.
type batch struct {
	n, k                    int
	shots, shotSketches     []float32 // n·k × 3·Size²
	target, sketch, weights []float32 // n × 3·Size², n × 3·Size², n × Size²
	videos                  []int64
}

const plane = 3 * Size * Size

func newBatch(n, k int) *batch {
	return &batch{n: n, k: k,
		shots: make([]float32, n*k*plane), shotSketches: make([]float32, n*k*plane),
		target: make([]float32, n*plane), sketch: make([]float32, n*plane), weights: make([]float32, n*Size*Size),
		videos: make([]int64, n)}
}

// fill makes episode e of video v: frames[:k] are embedded, frames[k] is
// the one drawn.
func (b *batch) fill(e, v int, shots []Shot, frames []int) {
	for s := 0; s < b.k; s++ {
		i := (e*b.k + s) * plane
		sh := shots[frames[s]]
		planar(b.shots[i:i+plane], sh.Crop)
		sketchOf(b.shotSketches[i:i+plane], sh.Points)
	}
	t := shots[frames[b.k]]
	planar(b.target[e*plane:(e+1)*plane], t.Crop)
	sketchOf(b.sketch[e*plane:(e+1)*plane], t.Points)
	faceWeight(b.weights[e*Size*Size:(e+1)*Size*Size], t.Points)
	b.videos[e] = int64(v)
}

func (m *Model) optimizers(c Config) (optG, optD *torch.Adam, err error) {
	var gen []torch.Param
	for _, name := range []string{"E", "G", "P"} {
		gen = append(gen, m.params.Sub(name).Trainable()...)
	}
	optG, err = torch.NewAdam(gen, torch.AdamConfig{LR: c.LRG, Beta1: 0.5, Beta2: 0.999, Eps: 1e-8})
	if err != nil {
		return nil, nil, err
	}
	optD, err = torch.NewAdam(m.params.Sub("D").Trainable(), torch.AdamConfig{LR: c.LRD, Beta1: 0.5, Beta2: 0.999, Eps: 1e-8})
	if err != nil {
		optG.Close()
		return nil, nil, err
	}
	return optG, optD, nil
}

// stepLoss is one step's losses.
type stepLoss struct{ L1, G, D, FM, Match float64 }

// metaStep is one meta-learning step over a batch of episodes: D learns
// real from generated faces for these sketches and identities (hinge
// loss) and pulls W_i toward ê_i; then E, P and G learn to draw the
// target frame from its sketch and the other frames' embedding.
func (m *Model) metaStep(optG, optD *torch.Adam, b *batch, c Config) (stepLoss, error) {
	scope := torch.NewScope()
	defer scope.Close()
	n, k := int64(b.n), int64(b.k)
	shots := torch.FromFloat32(b.shots, n*k, 3, Size, Size)
	shotSk := torch.FromFloat32(b.shotSketches, n*k, 3, Size, Size)
	real := torch.FromFloat32(b.target, n, 3, Size, Size)
	sk := torch.FromFloat32(b.sketch, n, 3, Size, Size)
	weight := torch.FromFloat32(b.weights, n, 1, Size, Size)

	e := torch.MeanDims(torch.View(m.E.Forward(shots, shotSk), n, k, EmbedDim), false, 1) // ê_i (n, EmbedDim)
	fake := m.G.Forward(sk, m.psi(e))
	w := m.D.column(b.videos)

	// D also pulls W_i toward ê_i, and G, E and P keep ê_i near W_i (the
	// match term, both ways).
	toE := torch.MulScalar(torch.Mean(torch.Abs(torch.Sub(w, torch.Detach(e)))), c.Match)
	match := torch.Mean(torch.Abs(torch.Sub(torch.Detach(w), e)))
	return m.adversarialStep(optG, optD, real, fake, sk, weight, w, c, toE, torch.MulScalar(match, c.Match), match)
}

// adversarialStep is what meta-learning and fine-tuning steps share once
// G has drawn fake for real under sketches sk and w is D's projection
// column for the identity: D's hinge update (plus extraD), then G's update
// on fooling the updated D, matching D's features of the real frame (taken
// from D's own pass, before its update: one pass fewer), the face-weighted
// L1, DSSIM, plus extraG. match is only reported.
func (m *Model) adversarialStep(optG, optD *torch.Adam, real, fake, sk, weight, w *torch.Tensor, c Config,
	extraD, extraG, match *torch.Tensor) (stepLoss, error) {
	rReal, fReal := m.D.Forward(real, sk, w)
	rFake, _ := m.D.Forward(torch.Detach(fake), sk, w)
	lossD := torch.Add(torch.Mean(torch.ReLU(torch.SubFrom(1, rReal))), torch.Mean(torch.ReLU(torch.AddScalar(rFake, 1))))
	if extraD != nil {
		lossD = torch.Add(lossD, extraD)
	}
	if err := optD.Minimize(lossD); err != nil {
		return stepLoss{}, err
	}

	rGen, fFake := m.D.Forward(fake, sk, torch.Detach(w))
	adv := torch.Neg(torch.Mean(rGen))
	fm := featureMatch(fReal, fFake)
	l1 := torch.Div(torch.Sum(torch.Mul(torch.Abs(torch.Sub(fake, real)), weight)), torch.MulScalar(torch.Sum(weight), 3))
	lossG := torch.Add(adv, torch.MulScalar(l1, c.L1))
	lossG = torch.Add(lossG, torch.MulScalar(fm, c.FM))
	if extraG != nil {
		lossG = torch.Add(lossG, extraG)
	}
	if c.DSSIM > 0 {
		lossG = torch.Add(lossG, torch.MulScalar(torch.DSSIM(fake, real, 7, 1.5), c.DSSIM))
	}
	if err := optG.Minimize(lossG); err != nil {
		return stepLoss{}, err
	}
	if match == nil {
		match = torch.MulScalar(l1, 0)
	}
	return lossValues(l1, adv, lossD, fm, match)
}

// featureMatch is the paper's L_FM: the mean absolute difference of D's
// block outputs for the real and the generated face, summed over blocks.
func featureMatch(real, fake []*torch.Tensor) *torch.Tensor {
	var sum *torch.Tensor
	for i := range real {
		d := torch.Mean(torch.Abs(torch.Sub(torch.Detach(real[i]), fake[i])))
		if sum == nil {
			sum = d
		} else {
			sum = torch.Add(sum, d)
		}
	}
	return sum
}

func lossValues(l1, adv, d, fm, match *torch.Tensor) (stepLoss, error) {
	v, err := torch.Stack([]*torch.Tensor{l1, adv, d, fm, match}, 0).Float32s()
	if err != nil {
		return stepLoss{}, err
	}
	l := stepLoss{L1: float64(v[0]), G: float64(v[1]), D: float64(v[2]), FM: float64(v[3]), Match: float64(v[4])}
	if s := l.L1 + l.G + l.D + l.FM + l.Match; math.IsNaN(s) || math.IsInf(s, 0) {
		return l, errors.New("loss is not a finite number (training diverged)")
	}
	return l, nil
}

// saveCheckpoint writes weights, both optimisers, then state.json last, so
// a crash mid-save leaves the previous state.json pointing at files that
// are all still whole (each is written to a temporary name and renamed);
// then a preview and the loss plot.
func saveCheckpoint(dir string, m *Model, optG, optD *torch.Adam, st *State, videos []Video) error {
	if err := m.params.Save(filepath.Join(dir, weightsFile), map[string]string{"format": format}); err != nil {
		return err
	}
	if err := optG.Save(filepath.Join(dir, optGFile)); err != nil {
		return err
	}
	if err := optD.Save(filepath.Join(dir, optDFile)); err != nil {
		return err
	}
	js, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		return fmt.Errorf("fewshot: %w", err)
	}
	if err := fsutil.WriteFile(filepath.Join(dir, stateFile), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("fewshot: %w", err)
	}
	prev, err := m.preview(videos, st.Config.Shots)
	if err != nil {
		return fmt.Errorf("fewshot: preview: %w", err)
	}
	if err := media.SaveImage(filepath.Join(dir, PreviewFile), prev); err != nil {
		return err
	}
	return media.SaveImage(filepath.Join(dir, LossFile), lossPlot(st.History))
}

// preview shows, for a few videos, episodes that are the same at every
// checkpoint: the driving sketch, the real frame, the generated one, and
// the K frames embedded.
func (m *Model) preview(videos []Video, k int) (*image.RGBA, error) {
	rows := Spread(len(videos), 6)
	out := image.NewRGBA(image.Rect(0, 0, (3+k)*Size, len(rows)*Size))
	b := newBatch(1, k)
	for r, v := range rows {
		shots := videos[v].Shots
		frames := Spread(len(shots), k+1)
		// The drawn frame sits in the middle of the video, the embedded
		// ones around it.
		mid := len(frames) / 2
		frames[mid], frames[k] = frames[k], frames[mid]
		b.fill(0, v, shots, frames)
		gen, err := m.generate(b)
		if err != nil {
			return nil, err
		}
		cells := []*image.RGBA{toRGBA(b.sketch), shots[frames[k]].Crop, gen}
		for s := 0; s < k; s++ {
			cells = append(cells, shots[frames[s]].Crop)
		}
		for c, img := range cells {
			draw.Draw(out, image.Rect(c*Size, r*Size, (c+1)*Size, (r+1)*Size), img, image.Point{}, draw.Src)
		}
	}
	return out, nil
}

// generate draws the target of a one-episode batch from its shots.
func (m *Model) generate(b *batch) (*image.RGBA, error) {
	var out []float32
	var err error
	torch.NoGrad(func() {
		scope := torch.NewScope()
		defer scope.Close()
		k := int64(b.k)
		e := torch.MeanDims(m.E.Forward(torch.FromFloat32(b.shots, k, 3, Size, Size), torch.FromFloat32(b.shotSketches, k, 3, Size, Size)), true, 0)
		out, err = m.G.Forward(torch.FromFloat32(b.sketch, 1, 3, Size, Size), m.psi(e)).Float32s()
	})
	if err != nil {
		return nil, err
	}
	return toRGBA(out), nil
}

func lossPlot(h []LossPoint) *image.RGBA {
	var steps, l1 []float64
	for _, p := range h {
		steps, l1 = append(steps, float64(p.Step)), append(l1, p.L1)
	}
	return plot.L1History("FEW-SHOT META-LEARNING L1", steps, l1)
}

// ReadState reads a model folder's state.json.
func ReadState(dir string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil || st.Format != format {
		return nil, fmt.Errorf("%w: %s", ErrNotModel, filepath.Join(dir, stateFile))
	}
	if len(st.Videos) == 0 {
		return nil, fmt.Errorf("%w: %s names no training videos", ErrNotModel, filepath.Join(dir, stateFile))
	}
	return &st, nil
}

// load reads the weights of a model folder into m.
func (m *Model) load(dir string) error {
	meta, err := m.params.Load(filepath.Join(dir, weightsFile))
	if err != nil {
		return err
	}
	if meta["format"] != format {
		return fmt.Errorf("%w: %s", ErrNotModel, filepath.Join(dir, weightsFile))
	}
	return nil
}
