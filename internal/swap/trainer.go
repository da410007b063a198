package swap

import (
	"errors"
	"fmt"
	"math"

	"github.com/facesynth/facesynth/internal/torch"
)

// Config are the training hyper-parameters. They are saved in every
// checkpoint.
type Config struct {
	Batch int `json:"batch"` // faces per identity per step
	// Adam as DeepFakes trained it: lr 5e-5, β = (0.5, 0.999). The low β1
	// (PyTorch's default is 0.9) averages the gradient over few steps, which
	// the 2017 release took from GAN practice; it trains this autoencoder
	// steadily and we keep it.
	LR    float64 `json:"lr"`
	Beta1 float64 `json:"beta1"`
	Beta2 float64 `json:"beta2"`
	Eps   float64 `json:"eps"`
	// DSSIM is the weight of the structural dissimilarity added to the face
	// L1 (0: plain L1, as DeepFakes).
	DSSIM float64 `json:"dssim"`
	// MaskWeight is the weight of the mask loss (BCE of the predicted mask
	// against the landmark-hull mask).
	MaskWeight float64 `json:"mask_weight"`
	Seed       uint64  `json:"seed"` // initial weights and every batch derive from it
	Augment    Augment `json:"augment"`
}

// DefaultConfig is DeepFakes' training setup plus the mask loss.
func DefaultConfig() Config {
	return Config{Batch: 16, LR: 5e-5, Beta1: 0.5, Beta2: 0.999, Eps: 1e-8, MaskWeight: 1, Seed: 1,
		Augment: DefaultAugment}
}

func (c Config) validate() error {
	switch {
	case c.Batch < 1:
		return fmt.Errorf("swap: batch size %d must be at least 1", c.Batch)
	case !(c.DSSIM >= 0) || math.IsInf(c.DSSIM, 0):
		return fmt.Errorf("swap: DSSIM weight %v must be a non-negative number", c.DSSIM)
	case !(c.MaskWeight >= 0) || math.IsInf(c.MaskWeight, 0):
		return fmt.Errorf("swap: mask loss weight %v must be a non-negative number", c.MaskWeight)
	}
	return nil
}

// StepLoss are one step's losses per side: Total = Face + MaskWeight·Mask,
// Face being the masked L1 (+ DSSIM·weight).
type StepLoss struct {
	A, B         float64
	FaceA, FaceB float64
	MaskA, MaskB float64
}

// ErrNaN is the error of a step whose loss is not a finite number: the
// training diverged. The step's update is not applied.
var ErrNaN = errors.New("swap: loss is not a finite number (training diverged)")

// Trainer runs training steps: each step draws a batch of augmented faces
// from both sets, runs A's through encoder and decoder A and B's through
// encoder and decoder B (one encoder pass over both halves), and takes one
// Adam step on the sum of both sides' losses.
//
// libtorch keeps a thread pool per OS thread: call Step from one goroutine
// locked to its thread (runtime.LockOSThread).
type Trainer struct {
	Model  *Model
	Config Config
	Sets   [2]*FaceSet

	opt     *torch.Adam
	step    int
	batches [2]*batch
	loss    lossConfig
}

// NewTrainer prepares to train m on the face sets a and b, whose faces must
// have the model's size. It creates the optimiser over all of m's weights.
func NewTrainer(m *Model, a, b *FaceSet, c Config) (*Trainer, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	for _, s := range []*FaceSet{a, b} {
		if s == nil || s.Len() == 0 {
			return nil, errors.New("swap: a face set is empty")
		}
		if s.Size != m.Arch.Size {
			return nil, fmt.Errorf("swap: face set %s has %d px faces, the model takes %d px", s.Dir, s.Size, m.Arch.Size)
		}
	}
	opt, err := torch.NewAdam(m.params.Trainable(), torch.AdamConfig{LR: c.LR, Beta1: c.Beta1, Beta2: c.Beta2, Eps: c.Eps})
	if err != nil {
		return nil, fmt.Errorf("swap: %w", err)
	}
	t := &Trainer{Model: m, Config: c, Sets: [2]*FaceSet{a, b}, opt: opt,
		loss: lossConfig{dssim: c.DSSIM, mask: c.MaskWeight}}
	for s := range t.batches {
		t.batches[s] = newBatch(c.Batch, m.Arch.Size)
	}
	return t, nil
}

// StepCount is the number of steps taken, counting those of the checkpoint
// the trainer was restored from.
func (t *Trainer) StepCount() int { return t.step }

// Optimizer is the trainer's Adam (its state is part of a checkpoint).
func (t *Trainer) Optimizer() *torch.Adam { return t.opt }

// Close frees the optimiser state (the model is the caller's).
func (t *Trainer) Close() { t.opt.Close() }

// Step trains one step and returns its losses.
func (t *Trainer) Step() (StepLoss, error) {
	size := int64(t.Model.Arch.Size)
	n := int64(t.Config.Batch)
	for s := range t.batches {
		t.batches[s].fill(t.Sets[s], t.Config.Augment, t.Config.Seed, Side(s), t.step)
	}
	scope := torch.NewScope()
	defer scope.Close()
	in := torch.Cat([]*torch.Tensor{
		torch.FromFloat32(t.batches[A].input, n, 3, size, size),
		torch.FromFloat32(t.batches[B].input, n, 3, size, size),
	}, 0)
	z := t.Model.Encode(in)
	var ls [2]losses
	for s := range ls {
		b := t.batches[s]
		rgb, logits := t.Model.Decode(torch.Narrow(z, 0, int64(s)*n, n), Side(s))
		ls[s] = sideLoss(rgb, logits, torch.FromFloat32(b.target, n, 3, size, size),
			torch.FromFloat32(b.mask, n, 1, size, size), b.maskSum, t.loss)
	}
	total := torch.Add(ls[A].total, ls[B].total)
	if err := t.opt.ZeroGrad(); err != nil {
		return StepLoss{}, fmt.Errorf("swap: step %d: %w", t.step+1, err)
	}
	if err := total.Backward(); err != nil {
		return StepLoss{}, fmt.Errorf("swap: step %d: %w", t.step+1, err)
	}
	v, err := torch.Stack([]*torch.Tensor{ls[A].total, ls[B].total, ls[A].face, ls[B].face, ls[A].mask, ls[B].mask}, 0).Float32s()
	if err != nil {
		return StepLoss{}, fmt.Errorf("swap: step %d: %w", t.step+1, err)
	}
	l := StepLoss{A: float64(v[0]), B: float64(v[1]), FaceA: float64(v[2]), FaceB: float64(v[3]),
		MaskA: float64(v[4]), MaskB: float64(v[5])}
	for s, x := range []float64{l.A, l.B} {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return l, fmt.Errorf("%w: step %d, loss %s = %v", ErrNaN, t.step+1, Side(s), x)
		}
	}
	if err := t.opt.Step(); err != nil {
		return l, fmt.Errorf("swap: step %d: %w", t.step+1, err)
	}
	t.step++
	return l, nil
}

// Reconstruction is the mean absolute error per face pixel and channel
// (inside the hull mask) with which the model reconstructs the first n
// faces of side s's set, undistorted: how well it has learnt that
// identity. n ≤ 0 means all.
func (t *Trainer) Reconstruction(s Side, n int) (float64, error) {
	return t.Model.Reconstruction(t.Sets[s], s, n)
}

// Reconstruction is Trainer.Reconstruction for any face set: the masked
// L1 of decoding set's faces (the first n; all for n ≤ 0) as side s.
func (m *Model) Reconstruction(set *FaceSet, s Side, n int) (float64, error) {
	if n <= 0 || n > set.Len() {
		n = set.Len()
	}
	var sum, weight float64
	const chunk = 32
	for i := 0; i < n; i += chunk {
		j := min(i+chunk, n)
		x, mask := set.tensors(i, j)
		var err error
		torch.WithScope(func(*torch.Scope) {
			torch.NoGrad(func() {
				in := torch.FromFloat32(x, int64(j-i), 3, int64(set.Size), int64(set.Size))
				rgb, _ := m.Forward(in, s)
				mk := torch.FromFloat32(mask, int64(j-i), 1, int64(set.Size), int64(set.Size))
				var v float32
				v, err = torch.Sum(torch.Mul(torch.Abs(torch.Sub(rgb, in)), mk)).Item()
				sum += float64(v)
			})
		})
		if err != nil {
			return 0, fmt.Errorf("swap: reconstruction: %w", err)
		}
		for _, v := range mask {
			weight += 3 * float64(v)
		}
	}
	return sum / math.Max(weight, 1), nil
}

// tensors returns faces i…j-1 of the set unaugmented, in model layout:
// planar RGB in [0, 1] and masks in [0, 1].
func (s *FaceSet) tensors(i, j int) (rgb, mask []float32) {
	n := s.Size * s.Size
	rgb = make([]float32, 0, (j-i)*3*n)
	mask = make([]float32, 0, (j-i)*n)
	for k := i; k < j; k++ {
		rgb = append(rgb, planar(s.RGB[k], n)...)
		for _, v := range s.Mask[k] {
			mask = append(mask, float32(v)/255)
		}
	}
	return rgb, mask
}

// planar converts n interleaved 8-bit RGB pixels to planar floats in [0, 1].
func planar(px []uint8, n int) []float32 {
	out := make([]float32, 3*n)
	for i := 0; i < n; i++ {
		for c := 0; c < 3; c++ {
			out[c*n+i] = float32(px[3*i+c]) / 255
		}
	}
	return out
}
