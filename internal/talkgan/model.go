// Package talkgan is the speech-driven temporal GAN of Vougioukas, Petridis
// and Pantic ("Realistic Speech-Driven Facial Animation with GANs", 2019),
// on facesynth's engine: a generator that turns one still face and a
// speech recording into a talking face, frame by frame, and the three
// discriminators it is trained against.
//
//	still ─ identity encoder ─────────────┬─ skips ───────────┐
//	speech ─ 0.2 s windows ─ conv1d ─ GRU ─┤ content          │
//	noise ─ GRU ───────────────────────────┴─ [id|content|noise] ─ frame decoder ─ frames
//
//	frame discriminator     frame + still                      → real/fake per frame
//	sequence discriminator  frames ─ encoder ─ GRU, speech ─ GRU → real/fake per clip
//	sync discriminator      5 mouths ─ enc, 0.2 s speech ─ enc  → ‖v − a‖ → in/off sync
//
// The generator's loss is the three adversarial terms plus a weighted L1
// reconstruction loss on the lower half of the face, where speech shows.
// Faces are the aligned crops of package dataset scaled to Config.Size
// (64 px by default, for CPU training); speech is raw 16 kHz audio.
package talkgan

import (
	"fmt"

	"github.com/facesynth/facesynth/internal/torch"
	"github.com/facesynth/facesynth/internal/torch/nn"
)

// Sizes the networks share.
const (
	Rate       = 16000    // audio samples per second
	WindowSize = Rate / 5 // 0.2 s of speech per video frame, centred on it
	NoiseDim   = 10       // per-frame noise fed to the noise GRU
	// FaceSize is the side of the faces the networks are built for.
	FaceSize   = 64
	idDim      = 128 // identity latent
	contentDim = 128 // content GRU's state
	syncFrames = 5   // frames the sync discriminator sees at once
	embedDim   = 128 // sync discriminator's embeddings
	slope      = 0.2 // LeakyReLU slope of the discriminators
	skipBase   = 32  // channels of the first identity-encoder stage
	encStages  = 4   // 64 → 32 → 16 → 8 → 4
	latentDim  = idDim + contentDim + NoiseDim
)

// audioEncoder is the paper's raw-waveform encoder of one 0.2 s window:
// a wide strided 1-D convolution (250 samples, hop 50, ≈ 16 ms and 3 ms)
// and three halving ones, then a linear layer.
//
//	(N, 1, 3200) → 16×60 → 32×30 → 64×15 → 128×7 → linear → (N, out)
type audioEncoder struct {
	convs [4]*nn.Conv1d
	norms [4]*nn.BatchNorm2d
	out   *nn.Linear
}

func newAudioEncoder(p *torch.Params, out int) *audioEncoder {
	e := &audioEncoder{}
	e.convs[0] = nn.NewConv1d(p, "conv0", 1, 16, 250, torch.ConvOpts{Stride: 50, NoBias: true})
	in := 16
	for k, c := range []int{32, 64, 128} {
		e.convs[k+1] = nn.NewConv1d(p, fmt.Sprintf("conv%d", k+1), in, c, 4, torch.ConvOpts{Stride: 2, Padding: 1, NoBias: true})
		in = c
	}
	for k, c := range []int{16, 32, 64, 128} {
		e.norms[k] = nn.NewBatchNorm2d(p, fmt.Sprintf("norm%d", k), c)
	}
	e.out = nn.NewLinear(p, "out", 128*7, out)
	return e
}

func (e *audioEncoder) forward(x *torch.Tensor) *torch.Tensor {
	for k := range e.convs {
		x = torch.ReLU(e.norms[k].Forward(e.convs[k].Forward(x)))
	}
	return e.out.Forward(torch.Flatten(x, 1, -1))
}

// Generator makes frames from a still face, speech windows and noise.
type Generator struct {
	p *torch.Params

	idConv  [encStages + 1]*nn.Conv2d // last: 4×4 → 1×1 latent
	idNorm  [encStages]*nn.BatchNorm2d
	audio   *audioEncoder
	content *nn.GRU
	noise   *nn.GRU
	decConv [encStages + 1]*nn.ConvTranspose2d // first: 1×1 → 4×4
	decNorm [encStages + 1]*nn.BatchNorm2d
	final   *nn.Conv2d // 64×64: the last stage's maps and the still → RGB
}

// finalChannels are the maps the last upsampling stage makes at full
// size, before the closing convolution that also sees the still itself.
const finalChannels = 16

// NewGenerator registers the generator's parameters in p.
func NewGenerator(p *torch.Params) *Generator {
	g := &Generator{p: p}
	id := p.Sub("identity")
	in := 3
	ch := make([]int, encStages)
	for k := 0; k < encStages; k++ {
		ch[k] = skipBase << k // 32, 64, 128, 256
		g.idConv[k] = nn.NewConv2d(id, fmt.Sprintf("conv%d", k), in, ch[k], 4, torch.ConvOpts{Stride: 2, Padding: 1, NoBias: true})
		g.idNorm[k] = nn.NewBatchNorm2d(id, fmt.Sprintf("norm%d", k), ch[k])
		in = ch[k]
	}
	// No batch norm on the 1×1 latent: with one still per batch its
	// variance would be over a single value.
	g.idConv[encStages] = nn.NewConv2d(id, fmt.Sprintf("conv%d", encStages), in, idDim, 4, torch.ConvOpts{})

	g.audio = newAudioEncoder(p.Sub("content"), 256)
	g.content = nn.NewGRU(p.Sub("content"), "gru", 256, contentDim, 1, true)
	g.noise = nn.NewGRU(p.Sub("noise"), "gru", NoiseDim, NoiseDim, 1, true)

	dec := p.Sub("decoder")
	// 1×1 latent → 4×4 with 256 channels, then each stage doubles the size
	// and takes the identity encoder's map of that size as a skip.
	g.decConv[0] = nn.NewConvTranspose2d(dec, "conv0", latentDim, ch[encStages-1], 4, torch.ConvOpts{NoBias: true})
	g.decNorm[0] = nn.NewBatchNorm2d(dec, "norm0", ch[encStages-1])
	for k := 1; k <= encStages; k++ {
		skip := ch[encStages-k]
		in := ch[encStages-k] + skip // previous stage's output has skip's channels too
		out := finalChannels
		if k < encStages {
			out = ch[encStages-k-1]
		}
		g.decConv[k] = nn.NewConvTranspose2d(dec, fmt.Sprintf("conv%d", k), in, out, 4, torch.ConvOpts{Stride: 2, Padding: 1, NoBias: true})
		g.decNorm[k] = nn.NewBatchNorm2d(dec, fmt.Sprintf("norm%d", k), out)
	}
	// The closing convolution sees the still at full size too (the U-Net's
	// outermost skip), so the face's fine texture can pass straight
	// through and the network spends itself on what speech changes.
	g.final = nn.NewConv2d(dec, "final", finalChannels+3, 3, 3, torch.ConvOpts{Padding: 1})
	return g
}

// identity encodes stills (N, 3, 64, 64) into the latent (N, idDim) and the
// skip maps, largest first: (N,32,32,32), (N,64,16,16), (N,128,8,8), (N,256,4,4).
func (g *Generator) identity(still *torch.Tensor) (*torch.Tensor, []*torch.Tensor) {
	x := still
	var skips []*torch.Tensor
	for k := 0; k < encStages; k++ {
		x = torch.ReLU(g.idNorm[k].Forward(g.idConv[k].Forward(x)))
		skips = append(skips, x)
	}
	z := torch.Tanh(g.idConv[encStages].Forward(x))
	return torch.Flatten(z, 1, -1), skips
}

// Forward generates T frames per still: still (N, 3, 64, 64) in [-1, 1],
// speech (N, T, WindowSize) — the 0.2 s centred on each frame — and noise
// (N, T, NoiseDim). It returns frames (N, T, 3, 64, 64) in [-1, 1].
func (g *Generator) Forward(still, speech, noise *torch.Tensor) *torch.Tensor {
	n, t := speech.Size(0), speech.Size(1)
	if still.Dim() != 4 || still.Size(2) != FaceSize || speech.Dim() != 3 || speech.Size(2) != WindowSize ||
		noise.Dim() != 3 || noise.Size(1) != t || noise.Size(2) != NoiseDim || still.Size(0) != n || noise.Size(0) != n {
		return torch.Errorf("talkgan: generator inputs %v, %v, %v; want (N,3,%d,%d), (N,T,%d), (N,T,%d)",
			still.Shape(), speech.Shape(), noise.Shape(), FaceSize, FaceSize, WindowSize, NoiseDim)
	}
	id, skips := g.identity(still)
	content := g.audio.forward(torch.Reshape(speech, n*t, 1, WindowSize))
	content, _ = g.content.Forward(torch.Reshape(content, n, t, 256), nil)
	nz, _ := g.noise.Forward(noise, nil)
	// Every frame's latent: the clip's identity, its own content and noise.
	idT := torch.Expand(torch.Unsqueeze(id, 1), n, t, idDim)
	z := torch.Reshape(torch.Cat([]*torch.Tensor{idT, content, nz}, 2), n*t, latentDim, 1, 1)
	x := torch.ReLU(g.decNorm[0].Forward(g.decConv[0].Forward(z)))
	repeat := func(s *torch.Tensor) *torch.Tensor {
		sh := s.Shape()
		return torch.Reshape(torch.Expand(torch.Unsqueeze(s, 1), n, t, sh[1], sh[2], sh[3]), n*t, sh[1], sh[2], sh[3])
	}
	for k := 1; k <= encStages; k++ {
		x = torch.Cat([]*torch.Tensor{x, repeat(skips[encStages-k])}, 1)
		x = torch.ReLU(g.decNorm[k].Forward(g.decConv[k].Forward(x)))
	}
	x = g.final.Forward(torch.Cat([]*torch.Tensor{x, repeat(still)}, 1))
	return torch.Reshape(torch.Tanh(x), n, t, 3, FaceSize, FaceSize)
}

// FrameDisc is the frame discriminator: is this frame, next to the still it
// was made from, a real frame? Five strided convolutions (the paper has six
// at 96×128; 64×64 needs one fewer).
//
//	(N, 6, 64, 64) → 32×32 → 64×16 → 128×8 → 256×4 → 1×1 logit
type FrameDisc struct {
	convs [5]*nn.Conv2d
	norms [3]*nn.InstanceNorm2d
}

// NewFrameDisc registers the frame discriminator's parameters in p.
func NewFrameDisc(p *torch.Params) *FrameDisc {
	d := &FrameDisc{}
	in := 6
	for k, c := range []int{32, 64, 128, 256} {
		d.convs[k] = nn.NewConv2d(p, fmt.Sprintf("conv%d", k), in, c, 4, torch.ConvOpts{Stride: 2, Padding: 1})
		if k > 0 {
			d.norms[k-1] = nn.NewInstanceNorm2d(p, fmt.Sprintf("norm%d", k), c, false)
		}
		in = c
	}
	d.convs[4] = nn.NewConv2d(p, "conv4", in, 1, 4, torch.ConvOpts{})
	return d
}

// Forward scores frames (M, 3, 64, 64) against their stills (M, 3, 64, 64):
// logits (M).
func (d *FrameDisc) Forward(frames, stills *torch.Tensor) *torch.Tensor {
	x := torch.Cat([]*torch.Tensor{frames, stills}, 1)
	for k := 0; k < 4; k++ {
		x = d.convs[k].Forward(x)
		if k > 0 {
			x = d.norms[k-1].Forward(x)
		}
		x = torch.LeakyReLU(x, slope)
	}
	return torch.Flatten(d.convs[4].Forward(x), 0, -1)
}

// frameEncoder is a small per-frame encoder for the sequence discriminator.
//
//	(M, 3, 64, 64) → 32×32 → 64×16 → 128×8 → 128×4 → linear → (M, 128)
type frameEncoder struct {
	convs [4]*nn.Conv2d
	out   *nn.Linear
}

func newFrameEncoder(p *torch.Params) *frameEncoder {
	e := &frameEncoder{}
	in := 3
	for k, c := range []int{32, 64, 128, 128} {
		e.convs[k] = nn.NewConv2d(p, fmt.Sprintf("conv%d", k), in, c, 4, torch.ConvOpts{Stride: 2, Padding: 1})
		in = c
	}
	e.out = nn.NewLinear(p, "out", 128*4*4, 128)
	return e
}

func (e *frameEncoder) forward(x *torch.Tensor) *torch.Tensor {
	for _, c := range e.convs {
		x = torch.LeakyReLU(c.Forward(x), slope)
	}
	return e.out.Forward(torch.Flatten(x, 1, -1))
}

// SeqDisc is the sequence discriminator: a per-frame encoder and a GRU over
// the video, an audio encoder and a GRU over the speech, and a linear
// layer on both final states. It judges motion (blinks, the rhythm of the
// mouth) that no single frame shows.
type SeqDisc struct {
	frames   *frameEncoder
	videoGRU *nn.GRU
	audio    *audioEncoder
	audioGRU *nn.GRU
	out      *nn.Linear
}

// NewSeqDisc registers the sequence discriminator's parameters in p.
func NewSeqDisc(p *torch.Params) *SeqDisc {
	return &SeqDisc{
		frames:   newFrameEncoder(p.Sub("frames")),
		videoGRU: nn.NewGRU(p.Sub("frames"), "gru", 128, 128, 1, true),
		audio:    newAudioEncoder(p.Sub("audio"), 128),
		audioGRU: nn.NewGRU(p.Sub("audio"), "gru", 128, 128, 1, true),
		out:      nn.NewLinear(p, "out", 256, 1),
	}
}

// Forward scores clips (N, T, 3, 64, 64) with their speech (N, T,
// WindowSize): logits (N).
func (d *SeqDisc) Forward(frames, speech *torch.Tensor) *torch.Tensor {
	n, t := frames.Size(0), frames.Size(1)
	v := d.frames.forward(torch.Reshape(frames, n*t, 3, FaceSize, FaceSize))
	_, hv := d.videoGRU.Forward(torch.Reshape(v, n, t, 128), nil)
	a := d.audio.forward(torch.Reshape(speech, n*t, 1, WindowSize))
	_, ha := d.audioGRU.Forward(torch.Reshape(a, n, t, 128), nil)
	h := torch.Cat([]*torch.Tensor{torch.Select(hv, 0, 0), torch.Select(ha, 0, 0)}, 1)
	return torch.Flatten(d.out.Forward(h), 0, -1)
}

// The mouth region of a 64 px face: dataset.MouthRect halved, trimmed to
// what the sync discriminator reads.
const (
	mouthTop, mouthLeft = 36, 16
	mouthH, mouthW      = 24, 32
)

// SyncDisc is the synchronisation discriminator: a video encoder over
// syncFrames mouth regions (channels stacked) and an audio encoder over
// the matching 0.2 s of speech, each ending in a unit embedding; the
// Euclidean distance d of the two gives the logit scale·(threshold − d),
// both learnt, so that close embeddings read as in sync.
//
//	mouths (N, 15, 24, 32) → 32×12×16 → 64×6×8 → 128×3×4 → linear → unit
//	speech (N, 1, 3200)    → audio encoder                          → unit
type SyncDisc struct {
	convs            [3]*nn.Conv2d
	vOut             *nn.Linear
	audio            *audioEncoder
	scale, threshold *torch.Tensor
}

// NewSyncDisc registers the sync discriminator's parameters in p.
func NewSyncDisc(p *torch.Params) *SyncDisc {
	d := &SyncDisc{}
	v := p.Sub("video")
	in := 3 * syncFrames
	for k, c := range []int{32, 64, 128} {
		d.convs[k] = nn.NewConv2d(v, fmt.Sprintf("conv%d", k), in, c, 4, torch.ConvOpts{Stride: 2, Padding: 1})
		in = c
	}
	d.vOut = nn.NewLinear(v, "out", 128*3*4, embedDim)
	d.audio = newAudioEncoder(p.Sub("audio"), embedDim)
	d.scale = p.Constant("scale", 5, true, 1)
	d.threshold = p.Constant("threshold", 1, true, 1)
	return d
}

// Forward scores mouth windows (N, syncFrames, 3, 64, 64) — whole faces,
// of which it reads the mouth — against 0.2 s of speech (N, WindowSize):
// logits (N), and the distances (N).
func (d *SyncDisc) Forward(faces, speech *torch.Tensor) (logit, dist *torch.Tensor) {
	n := faces.Size(0)
	m := torch.Narrow(torch.Narrow(faces, 3, mouthTop, mouthH), 4, mouthLeft, mouthW)
	x := torch.Reshape(m, n, 3*syncFrames, mouthH, mouthW)
	for _, c := range d.convs {
		x = torch.LeakyReLU(c.Forward(x), slope)
	}
	v := unit(d.vOut.Forward(torch.Flatten(x, 1, -1)))
	a := unit(d.audio.forward(torch.Reshape(speech, n, 1, WindowSize)))
	dist = torch.Sqrt(torch.AddScalar(torch.SumDims(torch.Square(torch.Sub(v, a)), torch.DropDim, 1), 1e-8))
	return torch.Mul(d.scale, torch.Sub(d.threshold, dist)), dist
}

func unit(x *torch.Tensor) *torch.Tensor {
	return torch.Div(x, torch.Sqrt(torch.AddScalar(torch.SumDims(torch.Square(x), torch.KeepDim, 1), 1e-8)))
}
