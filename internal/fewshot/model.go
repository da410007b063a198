package fewshot

import (
	"fmt"

	"github.com/facesynth/facesynth/internal/portrait"
	"github.com/facesynth/facesynth/internal/torch"
	"github.com/facesynth/facesynth/internal/torch/nn"
)

// Size is the side of the face crops the networks see and draw. 64 px:
// at 128 px a meta-learning step (several embedder passes, the generator,
// three discriminator passes) takes four times as long on a two-core CPU,
// and training time is what this machine has least of.
const Size = 64

// EmbedDim is the length of the identity embedding ê (the paper's 512,
// a quarter of it for the same reason as Size).
const EmbedDim = 128

// Channels of the networks' inputs: an RGB face and its landmark sketch
// (portrait's sketches: jaw/brows/nose, eyes, lips in three channels).
const (
	imageChannels  = 3
	sketchChannels = portrait.SketchChannels
)

// The model, as Figure 2 of Zakharov et al. 2019 ("Few-Shot Adversarial
// Learning of Realistic Neural Talking Head Models"):
//
//	K frames x_i(s) + sketches y_i(s) ─ Embedder E ─ mean over s ─ ê_i ──────────── ‖W_i − ê_i‖₁ (match)
//	                                                                │
//	                                                       P (projection matrix)
//	                                                                │
//	                                                  ψ̂_i = P·ê_i (AdaIN γ, β)
//	                                                                ↓
//	target sketch y_i(t) ─ Generator G: down ─ down ─ down ─ res×3 ─ up ─ up ─ up ─ x̂_i(t)
//	                       (instance norm)        (AdaIN)   (AdaIN)        │
//	                                                                        ↓
//	x_i(t) or x̂_i(t), y_i(t) ─ Discriminator V ─ v ─ r = vᵀ(W_i + w0) + b   (projection discriminator)
//
// Widths (64 px input):
//
//	E, V: 6×64² ─ 32×32² ─ 64×16² ─ 128×8² ─ 128×4² ─ (V: ReLU) sum over positions ─ 128
//	G:    3×64² ─ 32×32² ─ 64×16² ─ 128×8² ─ 3 residual blocks 128×8² ─ 64×16² ─ 32×32² ─ 32×64² ─ 3×64²
//
// The paper's blocks are BigGAN's residual blocks; so are these: a main
// path of two 3×3 convolutions and a 1×1 shortcut, average pooling to go
// down and nearest upsampling to go up. E and V are spectrally normalised
// (as in the paper) and have no other normalisation; G's encoder uses
// instance norm and everything after it AdaIN whose scale and shift come
// from ψ̂. Self-attention is left out: at 8×8 it has little to attend to.
var (
	encoderWidths = []int{32, 64, 128, EmbedDim}
	downWidths    = []int{32, 64, 128}
	upWidths      = []int{64, 32, 32}
)

// resBlocks is the number of AdaIN residual blocks at the bottleneck.
const resBlocks = 3

// snConv is a convolution whose weight is divided by its largest singular
// value (Miyato et al.), estimated by one step of power iteration per
// training forward pass with the vector u kept as a buffer. It keeps the
// critic 1-Lipschitz-ish so the hinge loss does not run away; the paper
// puts it in every layer of E and D.
type snConv struct {
	conv *nn.Conv2d
	u    *torch.Tensor // (out, 1), a checkpointed buffer
	p    *torch.Params
}

func newSNConv(p *torch.Params, name string, in, out, kernel int, o torch.ConvOpts) *snConv {
	c := &snConv{conv: nn.NewConv2d(p, name, in, out, kernel, o), p: p}
	u := torch.Randn(int64(out), 1)
	c.u = p.Sub(name).Add("u", torch.Div(u, torch.Sqrt(torch.Sum(torch.Square(u)))), false)
	return c
}

func unit(v *torch.Tensor) *torch.Tensor {
	return torch.Div(v, torch.AddScalar(torch.Sqrt(torch.Sum(torch.Square(v))), 1e-12))
}

func (c *snConv) forward(x *torch.Tensor) *torch.Tensor {
	w := c.conv.Weight
	mat := torch.View(w, w.Size(0), -1)
	// One power-iteration step per training pass; u and v carry no
	// gradient, σ = uᵀ·W·v does (Miyato et al.'s formulation).
	var u, v *torch.Tensor
	torch.NoGrad(func() {
		v = unit(torch.MatMul(torch.Transpose(mat, 0, 1), c.u))
		u = unit(torch.MatMul(mat, v))
		if c.p.Training() {
			c.u.CopyFrom(u)
		}
	})
	sigma := torch.Sum(torch.Mul(u, torch.MatMul(mat, v)))
	return torch.Conv2d(x, torch.Div(w, sigma), c.conv.Bias, c.conv.Opts)
}

// encoderBlock is a downsampling residual block without normalisation, for
// E and V:
//
//	x ─ ReLU ─ conv 3×3 ─ ReLU ─ conv 3×3 ─ avg pool 2 ─ (+) ─
//	└──────── conv 1×1 ─ avg pool 2 ─────────────────────┘
//
// The first block skips the leading ReLU: its input is the image.
type encoderBlock struct {
	first           bool
	conv1, conv2, s *snConv
}

func newEncoderBlock(p *torch.Params, in, out int, first bool) encoderBlock {
	pad := torch.ConvOpts{Padding: 1}
	return encoderBlock{
		first: first,
		conv1: newSNConv(p, "conv1", in, out, 3, pad),
		conv2: newSNConv(p, "conv2", out, out, 3, pad),
		s:     newSNConv(p, "skip", in, out, 1, torch.ConvOpts{}),
	}
}

func (b encoderBlock) forward(x *torch.Tensor) *torch.Tensor {
	h := x
	if !b.first {
		h = torch.ReLU(h)
	}
	h = b.conv2.forward(torch.ReLU(b.conv1.forward(h)))
	return torch.Add(torch.AvgPool2d(h, 2, 2, 0), torch.AvgPool2d(b.s.forward(x), 2, 2, 0))
}

// encoder is the architecture E and V share: a face and its sketch (N, 6,
// 64, 64) to a vector (N, EmbedDim), plus every block's output, which the
// feature-matching loss compares. V ends in ReLU and sum pooling as
// BigGAN's critic does; E leaves the ReLU out: the match loss pulls ê
// toward W_i, which starts near 0, and a ReLU there let it pull every
// unit of ê to exactly 0 and keep it there (no gradient flows back), an
// embedder that said nothing about anyone.
type encoder struct {
	blocks []encoderBlock
	relu   bool
}

func newEncoder(p *torch.Params, relu bool) *encoder {
	e := &encoder{relu: relu}
	in := imageChannels + sketchChannels
	for i, c := range encoderWidths {
		e.blocks = append(e.blocks, newEncoderBlock(p.Sub(fmt.Sprintf("%03d-down", i+1)), in, c, i == 0))
		in = c
	}
	return e
}

func (e *encoder) forward(img, sketch *torch.Tensor) (out *torch.Tensor, features []*torch.Tensor) {
	x := torch.Cat([]*torch.Tensor{img, sketch}, 1)
	for _, b := range e.blocks {
		x = b.forward(x)
		features = append(features, x)
	}
	if e.relu {
		x = torch.ReLU(x)
	}
	return torch.SumDims(x, false, 2, 3), features
}

// Embedder is E: frames and their sketches to identity embeddings.
type Embedder struct{ net *encoder }

// Forward maps faces and sketches (N, 3 and 3, Size, Size; values in
// [0, 1]) to embeddings (N, EmbedDim), one per frame; the paper's ê_i is
// their mean over a video's K frames.
func (e *Embedder) Forward(img, sketch *torch.Tensor) *torch.Tensor {
	out, _ := e.net.forward(img, sketch)
	return out
}

// adaIN is instance norm whose scale and shift are given, per sample:
// IN(x)·(1+γ) + β. The 1+ lets ψ̂ = 0 mean "plain instance norm", which is
// where training starts.
func adaIN(x, gamma, beta *torch.Tensor) *torch.Tensor {
	n, c := x.Size(0), x.Size(1)
	g := torch.View(gamma, n, c, 1, 1)
	b := torch.View(beta, n, c, 1, 1)
	return torch.Add(torch.Mul(torch.InstanceNorm(x, nil, nil, 1e-5), torch.AddScalar(g, 1)), b)
}

// adaParams slices ψ̂ (N, psiLen) into the γ and β of each AdaIN layer in
// the order the layers use them.
type adaParams struct {
	psi *torch.Tensor
	at  int64
}

func (a *adaParams) next(c int) (gamma, beta *torch.Tensor) {
	gamma = torch.Narrow(a.psi, 1, a.at, int64(c))
	beta = torch.Narrow(a.psi, 1, a.at+int64(c), int64(c))
	a.at += 2 * int64(c)
	return gamma, beta
}

// downBlock is G's encoder block: a residual block with instance norm
// (affine, since nothing else gives it a scale) going down by 2.
type downBlock struct {
	conv1, conv2, skip *nn.Conv2d
	norm1, norm2       *nn.InstanceNorm2d
}

func newDownBlock(p *torch.Params, in, out int) downBlock {
	pad := torch.ConvOpts{Padding: 1}
	return downBlock{
		conv1: nn.NewConv2d(p, "conv1", in, out, 3, pad),
		conv2: nn.NewConv2d(p, "conv2", out, out, 3, pad),
		skip:  nn.NewConv2d(p, "skip", in, out, 1, torch.ConvOpts{}),
		norm1: nn.NewInstanceNorm2d(p, "norm1", out, true),
		norm2: nn.NewInstanceNorm2d(p, "norm2", out, true),
	}
}

func (b downBlock) forward(x *torch.Tensor) *torch.Tensor {
	h := torch.ReLU(b.norm1.Forward(b.conv1.Forward(x)))
	h = b.norm2.Forward(b.conv2.Forward(h))
	return torch.Add(torch.AvgPool2d(h, 2, 2, 0), torch.AvgPool2d(b.skip.Forward(x), 2, 2, 0))
}

// adaBlock is a residual block with AdaIN, at the bottleneck (up false)
// or going up by 2 (up true):
//
//	x ─ AdaIN ─ ReLU ─ [×2] ─ conv 3×3 ─ AdaIN ─ ReLU ─ conv 3×3 ─ (+) ─
//	└──────────────── [×2] ─ [conv 1×1 if the width changes] ──────┘
type adaBlock struct {
	up           bool
	in, out      int
	conv1, conv2 *nn.Conv2d
	skip         *nn.Conv2d // nil when in == out
}

func newAdaBlock(p *torch.Params, in, out int, up bool) adaBlock {
	pad := torch.ConvOpts{Padding: 1}
	b := adaBlock{up: up, in: in, out: out,
		conv1: nn.NewConv2d(p, "conv1", in, out, 3, pad),
		conv2: nn.NewConv2d(p, "conv2", out, out, 3, pad),
	}
	if in != out {
		b.skip = nn.NewConv2d(p, "skip", in, out, 1, torch.ConvOpts{})
	}
	return b
}

func (b adaBlock) forward(x *torch.Tensor, a *adaParams) *torch.Tensor {
	g1, b1 := a.next(b.in)
	g2, b2 := a.next(b.out)
	h := torch.ReLU(adaIN(x, g1, b1))
	s := x
	if b.up {
		h = torch.Upsample(h, 2, torch.Nearest)
		s = torch.Upsample(s, 2, torch.Nearest)
	}
	h = b.conv2.Forward(torch.ReLU(adaIN(b.conv1.Forward(h), g2, b2)))
	if b.skip != nil {
		s = b.skip.Forward(s)
	}
	return torch.Add(h, s)
}

// psiLen is the length of ψ̂: a γ and a β for every AdaIN layer.
func psiLen() int {
	n := 0
	c := downWidths[len(downWidths)-1]
	for range resBlocks {
		n += 2 * (c + c)
	}
	for _, w := range upWidths {
		n += 2 * (c + w)
		c = w
	}
	return n + 2*c // the AdaIN before the output convolution
}

// Generator is G: a landmark sketch and AdaIN parameters ψ̂ to a face.
type Generator struct {
	downs []downBlock
	res   []adaBlock
	ups   []adaBlock
	out   *nn.Conv2d
}

func newGenerator(p *torch.Params) *Generator {
	g := &Generator{}
	in := sketchChannels
	k := 0
	name := func(s string) *torch.Params { k++; return p.Sub(fmt.Sprintf("%03d-%s", k, s)) }
	for _, c := range downWidths {
		g.downs = append(g.downs, newDownBlock(name("down"), in, c))
		in = c
	}
	for range resBlocks {
		g.res = append(g.res, newAdaBlock(name("res"), in, in, false))
	}
	for _, c := range upWidths {
		g.ups = append(g.ups, newAdaBlock(name("up"), in, c, true))
		in = c
	}
	g.out = nn.NewConv2d(name("out"), "conv", in, imageChannels, 3, torch.ConvOpts{Padding: 1})
	return g
}

// Forward draws faces (N, 3, Size, Size) in [0, 1] for sketches (N, 3,
// Size, Size) with AdaIN parameters psi (N, psiLen()).
func (g *Generator) Forward(sketch, psi *torch.Tensor) *torch.Tensor {
	a := &adaParams{psi: psi}
	x := sketch
	for _, d := range g.downs {
		x = d.forward(x)
	}
	for _, r := range g.res {
		x = r.forward(x, a)
	}
	for _, u := range g.ups {
		x = u.forward(x, a)
	}
	gamma, beta := a.next(upWidths[len(upWidths)-1])
	x = torch.ReLU(adaIN(x, gamma, beta))
	return torch.MulScalar(torch.AddScalar(torch.Tanh(g.out.Forward(x)), 1), 0.5)
}

// Discriminator is D: V maps a face and its sketch to v, and the realism
// score is the projection r = vᵀ(W_i + w0) + b, where W_i is video i's
// column of W (one per training video; at fine-tuning a single column w'
// that starts at w0 + ê_NEW).
type Discriminator struct {
	V  *encoder
	W  *torch.Tensor // (EmbedDim, videos)
	W0 *torch.Tensor // (EmbedDim)
	B  *torch.Tensor // (1)
}

func newDiscriminator(p *torch.Params, videos int) *Discriminator {
	return &Discriminator{
		V:  newEncoder(p.Sub("V"), true),
		W:  p.Uniform("W", 0.02, EmbedDim, int64(videos)),
		W0: p.Constant("w0", 0, true, EmbedDim),
		B:  p.Constant("b", 0, true, 1),
	}
}

// Forward scores faces (N, 3, Size, Size) with their sketches against
// the identity columns w (N, EmbedDim): the realism score (N) and V's
// block outputs for feature matching.
func (d *Discriminator) Forward(img, sketch, w *torch.Tensor) (*torch.Tensor, []*torch.Tensor) {
	v, feats := d.V.forward(img, sketch)
	score := torch.Add(torch.SumDims(torch.Mul(v, torch.Add(w, d.W0)), false, 1), d.B)
	return score, feats
}

// column is W_i for each video index of a batch: (N, EmbedDim).
func (d *Discriminator) column(videos []int64) *torch.Tensor {
	return torch.Transpose(torch.Index(d.W, 1, torch.FromInt64(videos, int64(len(videos)))), 0, 1)
}

// Model is the meta-learned few-shot model: E, G with P, and D.
type Model struct {
	params *torch.Params
	E      *Embedder
	G      *Generator
	P      *torch.Tensor // (psiLen, EmbedDim): ψ̂ = P·ê
	D      *Discriminator
}

// newModel builds a model with fresh weights for a set of videos many
// training videos (the columns of W).
func newModel(videos int) (*Model, error) {
	if !torch.Available {
		return nil, fmt.Errorf("fewshot: %w", torch.ErrUnavailable)
	}
	if videos < 1 {
		return nil, fmt.Errorf("fewshot: a model needs at least one training video")
	}
	p := torch.NewParams()
	m := &Model{params: p}
	m.E = &Embedder{net: newEncoder(p.Sub("E"), false)}
	m.G = newGenerator(p.Sub("G"))
	// P is initialised as PyTorch initialises a Linear layer's weight.
	m.P = p.Sub("P").Uniform("weight", torch.KaimingBound(EmbedDim), int64(psiLen()), EmbedDim)
	m.D = newDiscriminator(p.Sub("D"), videos)
	if err := p.Err(); err != nil {
		p.Close()
		return nil, fmt.Errorf("fewshot: %w", err)
	}
	return m, nil
}

// psi is ψ̂ = P·ê for embeddings (N, EmbedDim).
func (m *Model) psi(e *torch.Tensor) *torch.Tensor { return torch.Linear(e, m.P, nil) }

// Close frees the weights.
func (m *Model) Close() {
	if m != nil && m.params != nil {
		m.params.Close()
	}
}
