package syncnet

import (
	"fmt"

	"github.com/facesynth/facesynth/internal/torch"
	"github.com/facesynth/facesynth/internal/torch/nn"
)

// Embed is the length of the embeddings both encoders produce.
const Embed = 128

// Net is the two-stream network: a video encoder over a window of mouth
// images and an audio encoder over the matching speech, each ending in a
// unit-length embedding, so the Euclidean distance of two embeddings lies
// in [0, 2] whatever the clip.
//
//	video (N, 5, 32, 48) ─ 4 × [conv3 BN ReLU pool] ─ linear ─ normalise ─┐
//	                                                                       ├─ ‖v − a‖
//	audio (N, 13, 20)    ─ 3 × [conv1d BN ReLU] ───── linear ─ normalise ─┘
//
// The five frames enter as channels (SyncNet's early fusion): the first
// convolution sees the lips move. The audio stream convolves over time with
// the MFCCs as channels.
type Net struct {
	p *torch.Params

	vConv [4]*nn.Conv2d
	vNorm [4]*nn.BatchNorm2d
	vOut  *nn.Linear

	aConv [3]*nn.Conv1d
	aNorm [3]*nn.BatchNorm2d // batch norm over (N, C, L) is the same op
	aOut  *nn.Linear
}

var (
	videoChannels = [4]int{16, 32, 64, 96}
	audioChannels = [3]int{64, 128, 128}
)

// NewNet registers the network's parameters in p (PyTorch's default
// initialisation from the seeded generator).
func NewNet(p *torch.Params) *Net {
	n := &Net{p: p}
	v := p.Sub("video")
	in := Frames
	for k, c := range videoChannels {
		o := torch.ConvOpts{Padding: 1, NoBias: true}
		if k == 3 {
			o.Stride = 2 // the last block downsamples by stride instead of pooling
		}
		n.vConv[k] = nn.NewConv2d(v, fmt.Sprintf("conv%d", k), in, c, 3, o)
		n.vNorm[k] = nn.NewBatchNorm2d(v, fmt.Sprintf("norm%d", k), c)
		in = c
	}
	// 32×48 → pools of 2 → 4×6 → stride 2 → 2×3.
	n.vOut = nn.NewLinear(v, "out", videoChannels[3]*2*3, Embed)

	a := p.Sub("audio")
	in = Coeffs
	for k, c := range audioChannels {
		o := torch.ConvOpts{Padding: 1, NoBias: true}
		if k > 0 {
			o.Stride = 2
		}
		n.aConv[k] = nn.NewConv1d(a, fmt.Sprintf("conv%d", k), in, c, 3, o)
		n.aNorm[k] = nn.NewBatchNorm2d(a, fmt.Sprintf("norm%d", k), c)
		in = c
	}
	// 20 steps → stride 2 → 10 → stride 2 → 5.
	n.aOut = nn.NewLinear(a, "out", audioChannels[2]*5, Embed)
	return n
}

// Video embeds mouth windows x (N, Frames, InHeight, InWidth) as (N, Embed).
func (n *Net) Video(x *torch.Tensor) *torch.Tensor {
	for k := range n.vConv {
		x = torch.ReLU(n.vNorm[k].Forward(n.vConv[k].Forward(x)))
		if k < 3 {
			x = torch.MaxPool2d(x, 2, 0, 0)
		}
	}
	return unit(n.vOut.Forward(torch.Flatten(x, 1, -1)))
}

// Audio embeds speech windows x (N, Coeffs, AudioRows) as (N, Embed).
func (n *Net) Audio(x *torch.Tensor) *torch.Tensor {
	for k := range n.aConv {
		x = torch.ReLU(n.aNorm[k].Forward(n.aConv[k].Forward(x)))
	}
	return unit(n.aOut.Forward(torch.Flatten(x, 1, -1)))
}

// unit scales each row of x (N, D) to length 1.
func unit(x *torch.Tensor) *torch.Tensor {
	norm := torch.Sqrt(torch.AddScalar(torch.SumDims(torch.Square(x), torch.KeepDim, 1), 1e-8))
	return torch.Div(x, norm)
}

// Distance is the Euclidean distance of paired rows of v and a: (N).
func Distance(v, a *torch.Tensor) *torch.Tensor {
	return torch.Sqrt(torch.AddScalar(torch.SumDims(torch.Square(torch.Sub(v, a)), torch.DropDim, 1), 1e-8))
}

// ContrastiveLoss is the mean of d² over in-sync pairs and of
// max(margin − d, 0)² over off-sync pairs (Chopra, Hadsell and LeCun's
// loss, as SyncNet trains with): in-sync embeddings are pulled together,
// off-sync ones pushed at least margin apart.
func ContrastiveLoss(dSync, dOff *torch.Tensor, margin float64) *torch.Tensor {
	pull := torch.Mean(torch.Square(dSync))
	push := torch.Mean(torch.Square(torch.ReLU(torch.SubFrom(margin, dOff))))
	return torch.Add(pull, push)
}
