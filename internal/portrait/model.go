package portrait

import (
	"fmt"

	"github.com/facesynth/facesynth/internal/torch"
	"github.com/facesynth/facesynth/internal/torch/nn"
)

// Size is the side of the face crops the renderer draws.
const Size = 128

// Context is how many sketches the renderer sees: this frame's and the
// ones before it, so that it can keep the face steady from frame to frame
// (Deep Video Portraits feeds a short window of conditioning images for
// the same reason).
const Context = 3

// The generator's input is the landmark sketches plus a coarse rendering:
// a reference frame of the target mesh-warped to the landmarks (what
// re-enactment without a model shows). Deep Video Portraits likewise feeds
// the network a rendering of the fitted face model, and the network learns
// what the coarse rendering gets wrong: the mouth's inside, wrinkles,
// shading, the hair and collar that a warp drags along.
const inChannels = Context*SketchChannels + 3

// The generator is a U-Net (Ronneberger et al.; pix2pix's generator) that
// outputs a correction to the warped reference:
//
//	sketches + warp 12×128² ─ down 16×64² ─ down 32×32² ─ down 64×16² ─ down 128×8² ─ down 128×4²
//	                               │            │            │             │              │
//	face = warp + Δ ─ out ─ up 16×64² ─ up 32×32² ─ up 64×16² ─ up 128×8² ─────────────────┘
//	                  (each up: ×2 nearest, conv 3×3, concatenated with the skip)
//
// The last convolution starts at zero, so an untrained renderer returns the
// warp itself and training can only start from there.
//
// down is conv 4×4 stride 2, instance norm (not on the first), LeakyReLU
// 0.2; up is nearest upsampling, conv 3×3, instance norm, ReLU, which avoids
// the checkerboard of transposed convolutions. pix2pix's widths are 4×
// these (64…512); a quarter of the channels is a sixteenth of the work,
// which is what makes training on a CPU a matter of minutes, and one
// person's face in one video is a narrow task.
var (
	downChannels = []int{16, 32, 64, 128, 128}
	upChannels   = []int{128, 64, 32, 16}
)

type down struct {
	conv *nn.Conv2d
	norm *nn.InstanceNorm2d // nil on the first block
}

func (d down) forward(x *torch.Tensor) *torch.Tensor {
	x = d.conv.Forward(x)
	if d.norm != nil {
		x = d.norm.Forward(x)
	}
	return torch.LeakyReLU(x, 0.2)
}

type up struct {
	conv *nn.Conv2d
	norm *nn.InstanceNorm2d
}

func (u up) forward(x *torch.Tensor) *torch.Tensor {
	x = torch.Upsample(x, 2, torch.Nearest)
	return torch.ReLU(u.norm.Forward(u.conv.Forward(x)))
}

// Generator draws a face crop from landmark sketches.
type Generator struct {
	downs []down
	ups   []up
	out   *nn.Conv2d
}

func newGenerator(p *torch.Params) *Generator {
	g := &Generator{}
	in := inChannels
	for i, c := range downChannels {
		d := down{conv: nn.NewConv2d(p, fmt.Sprintf("down%d.conv", i+1), in, c, 4, torch.ConvOpts{Stride: 2, Padding: 1})}
		if i > 0 {
			d.norm = nn.NewInstanceNorm2d(p, fmt.Sprintf("down%d.norm", i+1), c, true)
		}
		g.downs = append(g.downs, d)
		in = c
	}
	for i, c := range upChannels {
		g.ups = append(g.ups, up{
			conv: nn.NewConv2d(p, fmt.Sprintf("up%d.conv", i+1), in, c, 3, torch.ConvOpts{Padding: 1}),
			norm: nn.NewInstanceNorm2d(p, fmt.Sprintf("up%d.norm", i+1), c, true),
		})
		in = 2 * c // concatenated with the skip of the same size
	}
	q := p.Sub("out")
	g.out = &nn.Conv2d{
		Weight: q.Constant("weight", 0, true, 3, int64(in), 3, 3),
		Bias:   q.Constant("bias", 0, true, 3),
		Opts:   torch.ConvOpts{Padding: 1},
	}
	return g
}

// Forward maps sketches and warp (N, 12, 128, 128; the warp is the last 3
// channels, RGB in [0, 1]) to faces (N, 3, 128, 128) in [0, 1].
func (g *Generator) Forward(in *torch.Tensor) *torch.Tensor {
	x := in
	skips := make([]*torch.Tensor, len(g.downs))
	for i, d := range g.downs {
		x = d.forward(x)
		skips[i] = x
	}
	for i, u := range g.ups {
		x = torch.Cat([]*torch.Tensor{u.forward(x), skips[len(skips)-2-i]}, 1)
	}
	x = torch.Upsample(x, 2, torch.Nearest)
	warp := torch.Narrow(in, 1, inChannels-3, 3)
	return torch.Clamp(torch.Add(warp, g.out.Forward(x)), 0, 1)
}

// Discriminator is pix2pix's PatchGAN: it judges overlapping patches of a
// face together with the sketches it was drawn from, so it asks "is this a
// real face for these landmarks", patch by patch (receptive field ~34 px).
type Discriminator struct {
	convs []*nn.Conv2d
	norms []*nn.InstanceNorm2d
	out   *nn.Conv2d
}

func newDiscriminator(p *torch.Params) *Discriminator {
	d := &Discriminator{}
	in := inChannels + 3 // sketches, warp, and the face judged
	for i, c := range []int{16, 32, 64} {
		d.convs = append(d.convs, nn.NewConv2d(p, fmt.Sprintf("conv%d", i+1), in, c, 4, torch.ConvOpts{Stride: 2, Padding: 1}))
		var norm *nn.InstanceNorm2d
		if i > 0 {
			norm = nn.NewInstanceNorm2d(p, fmt.Sprintf("norm%d", i+1), c, true)
		}
		d.norms = append(d.norms, norm)
		in = c
	}
	d.out = nn.NewConv2d(p, "out", in, 1, 3, torch.ConvOpts{Padding: 1})
	return d
}

// Forward gives patch logits (N, 1, 16, 16) for sketches and faces.
func (d *Discriminator) Forward(sketch, faces *torch.Tensor) *torch.Tensor {
	x := torch.Cat([]*torch.Tensor{sketch, faces}, 1)
	for i, c := range d.convs {
		x = c.Forward(x)
		if d.norms[i] != nil {
			x = d.norms[i].Forward(x)
		}
		x = torch.LeakyReLU(x, 0.2)
	}
	return d.out.Forward(x)
}

// Model is the renderer: a generator, and while training its critic.
type Model struct {
	params *torch.Params
	G      *Generator
	D      *Discriminator
}

// NewModel builds a renderer with fresh weights.
func NewModel() (*Model, error) {
	if !torch.Available {
		return nil, fmt.Errorf("portrait: %w", torch.ErrUnavailable)
	}
	p := torch.NewParams()
	m := &Model{params: p, G: newGenerator(p.Sub("generator")), D: newDiscriminator(p.Sub("discriminator"))}
	if err := p.Err(); err != nil {
		p.Close()
		return nil, fmt.Errorf("portrait: %w", err)
	}
	return m, nil
}

// Close frees the weights.
func (m *Model) Close() {
	if m != nil && m.params != nil {
		m.params.Close()
	}
}
