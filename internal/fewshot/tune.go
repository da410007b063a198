package fewshot

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math/rand/v2"
	"os"
	"runtime"
	"time"

	"github.com/facesynth/facesynth/internal/align"
	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/portrait"
	"github.com/facesynth/facesynth/internal/progress"
	"github.com/facesynth/facesynth/internal/torch"
)

// DefaultTuneSteps is how long fine-tuning runs unless told otherwise:
// the paper's few-shot regime is short (overfitting K frames is the
// risk), and 150 steps take well under a minute for K = 1 and about a
// minute for K = 8 on two cores.
const DefaultTuneSteps = 150

// TuneOptions control FineTune.
type TuneOptions struct {
	Steps    int     // fine-tuning steps (0: none, the meta-learned generator as is)
	Batch    int     // frames per step (default min(K, 4))
	LR       float64 // Adam for G and D (default 1e-4)
	Seed     uint64  // frames of each step
	Progress progress.Reporter
}

// TuneStats is what fine-tuning did.
type TuneStats struct {
	Shots      int
	Steps      int
	Seconds    float64
	L1, L1Last float64 // reconstruction L1 inside the face on the first and the last step
}

// Renderer draws one person's face, learned from a few frames, for any
// landmarks. Not safe for concurrent use.
type Renderer struct {
	m     *Model
	tuned *torch.Params // ψ' and w'
	psi   *torch.Tensor // (1, psiLen)
	sk    []float32
	Stats TuneStats
}

// FineTune adapts the meta-learned model in metaDir to the person in shots
// (the paper's fine-tuning stage): ê_NEW is E's mean embedding of the
// shots; G's AdaIN parameters become free parameters ψ' starting at
// P·ê_NEW, and D's identity vector w' starts at w0 + ê_NEW; then G (with
// ψ') and D train on the shots for o.Steps steps while E and P stay fixed.
func FineTune(ctx context.Context, metaDir string, shots []Shot, o TuneOptions) (*Renderer, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if len(shots) == 0 {
		return nil, fmt.Errorf("fewshot: no frames of the target to fine-tune on")
	}
	for i, s := range shots {
		if s.Crop == nil || s.Crop.Rect.Dx() != Size || s.Crop.Rect.Dy() != Size || len(s.Points) != face.NumLandmarks {
			return nil, fmt.Errorf("fewshot: shot %d is not a %d px crop with 68 landmarks", i, Size)
		}
	}
	if o.Steps < 0 {
		return nil, fmt.Errorf("fewshot: %d fine-tuning steps", o.Steps)
	}
	if o.Batch <= 0 {
		o.Batch = min(len(shots), 4)
	}
	if o.LR == 0 {
		o.LR = 1e-4
	}
	st, err := ReadState(metaDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no %s", ErrNotModel, metaDir, stateFile)
	}
	if err != nil {
		return nil, err
	}
	torch.ManualSeed(st.Config.Seed)
	m, err := newModel(len(st.Videos))
	if err != nil {
		return nil, err
	}
	r := &Renderer{m: m, sk: make([]float32, plane), Stats: TuneStats{Shots: len(shots), Steps: o.Steps}}
	ok := false
	defer func() {
		if !ok {
			r.Close()
		}
	}()
	if err := m.load(metaDir); err != nil {
		return nil, fmt.Errorf("fewshot: %w", err)
	}

	// ê_NEW, ψ' = P·ê_NEW, w' (see Discriminator.Forward: it adds w0).
	all := newBatch(1, len(shots))
	for s, sh := range shots {
		planar(all.shots[s*plane:(s+1)*plane], sh.Crop)
		sketchOf(all.shotSketches[s*plane:(s+1)*plane], sh.Points)
	}
	r.tuned = torch.NewParams()
	m.params.SetTraining(false) // E as meta-learned: no spectral-norm update
	torch.NoGrad(func() {
		scope := torch.NewScope()
		defer scope.Close()
		k := int64(len(shots))
		e := torch.MeanDims(m.E.Forward(torch.FromFloat32(all.shots, k, 3, Size, Size), torch.FromFloat32(all.shotSketches, k, 3, Size, Size)), true, 0)
		r.psi = r.tuned.Add("psi", torch.Clone(m.psi(e)), true)
		r.tuned.Add("w", torch.Clone(torch.Squeeze(e, 0)), true)
	})
	if err := r.tuned.Err(); err != nil {
		return nil, fmt.Errorf("fewshot: %w", err)
	}
	if o.Steps > 0 {
		m.params.SetTraining(true)
		if err := r.tune(ctx, shots, o, st.Config); err != nil {
			return nil, err
		}
	}
	m.params.SetTraining(false)
	ok = true
	return r, nil
}

// tune is the fine-tuning loop: G′ and D′ on the shots, hinge loss and
// the same reconstruction terms as meta-learning.
func (r *Renderer) tune(ctx context.Context, shots []Shot, o TuneOptions, c Config) error {
	m := r.m
	gen := append(m.params.Sub("G").Trainable(), torch.Param{Name: "psi", Tensor: r.psi, Trainable: true})
	crit := append(m.params.Sub("D").Sub("V").Trainable(),
		torch.Param{Name: "w0", Tensor: m.D.W0, Trainable: true},
		torch.Param{Name: "b", Tensor: m.D.B, Trainable: true},
		torch.Param{Name: "w", Tensor: r.tuned.Get("w"), Trainable: true})
	adam := torch.AdamConfig{LR: o.LR, Beta1: 0.5, Beta2: 0.999, Eps: 1e-8}
	optG, err := torch.NewAdam(gen, adam)
	if err != nil {
		return err
	}
	defer optG.Close()
	optD, err := torch.NewAdam(crit, adam)
	if err != nil {
		return err
	}
	defer optD.Close()
	rep := progress.Of(o.Progress)
	start := time.Now()
	b := newBatch(o.Batch, 0)
	for s := 0; s < o.Steps; s++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		rng := rand.New(rand.NewPCG(o.Seed, uint64(s)))
		frames := pick(rng, len(shots), min(o.Batch, len(shots)))
		for len(frames) < o.Batch { // fewer shots than the batch: repeat them
			frames = append(frames, frames[len(frames)%len(shots)])
		}
		for e, f := range frames {
			b.fill(e, 0, shots, []int{f})
		}
		l, err := r.tuneStep(optG, optD, b, c)
		if err != nil {
			return fmt.Errorf("fewshot: fine-tuning step %d: %w", s+1, err)
		}
		if s == 0 {
			r.Stats.L1 = l.L1
		}
		r.Stats.L1Last = l.L1
		rep.Report(s+1, o.Steps, fmt.Sprintf("L1 %.4f", l.L1))
	}
	r.Stats.Seconds = time.Since(start).Seconds()
	return nil
}

// tuneStep is metaStep without the embedder: ψ' stands in for P·ê and w'
// for W_i.
func (r *Renderer) tuneStep(optG, optD *torch.Adam, b *batch, c Config) (stepLoss, error) {
	scope := torch.NewScope()
	defer scope.Close()
	m, n := r.m, int64(b.n)
	real := torch.FromFloat32(b.target, n, 3, Size, Size)
	sk := torch.FromFloat32(b.sketch, n, 3, Size, Size)
	weight := torch.FromFloat32(b.weights, n, 1, Size, Size)
	fake := m.G.Forward(sk, torch.Expand(r.psi, n, -1))
	w := torch.Expand(torch.Unsqueeze(r.tuned.Get("w"), 0), n, -1)

	return m.adversarialStep(optG, optD, real, fake, sk, weight, w, c, nil, nil, nil) // no match term here
}

// Close frees the weights.
func (r *Renderer) Close() {
	if r == nil {
		return
	}
	r.m.Close()
	if r.tuned != nil {
		r.tuned.Close()
	}
}

// Draw draws the face for landmarks pts given in crop coordinates (a
// Shot's Points): a Size×Size crop.
func (r *Renderer) Draw(pts []face.Point) (*image.RGBA, error) {
	if len(pts) != face.NumLandmarks {
		return nil, fmt.Errorf("fewshot: %d landmarks, want 68", len(pts))
	}
	sketchOf(r.sk, pts)
	var out []float32
	var err error
	torch.NoGrad(func() {
		scope := torch.NewScope()
		defer scope.Close()
		out, err = r.m.G.Forward(torch.FromFloat32(r.sk, 1, 3, Size, Size), r.psi).Float32s()
	})
	if err != nil {
		return nil, fmt.Errorf("fewshot: %w", err)
	}
	return toRGBA(out), nil
}

// Face draws the face crop for landmarks pts (frame coordinates) and gives
// the transform from the frame to the crop.
func (r *Renderer) Face(pts []face.Point) (*image.RGBA, align.Transform, error) {
	t := CropTransform(pts)
	if !t.Valid() {
		return nil, t, fmt.Errorf("fewshot: landmarks give no face crop")
	}
	img, err := r.Draw(t.ApplyAll(pts))
	return img, t, err
}

// Render draws the face for pts into frame: the generated crop is pasted
// inside the landmarks' hull, feathered, so the frame's background and
// hair stay the frame's.
func (r *Renderer) Render(frame *image.RGBA, pts []face.Point) error {
	crop, t, err := r.Face(pts)
	if err != nil {
		return err
	}
	portrait.PasteFace(frame, crop, pts, t)
	return nil
}
