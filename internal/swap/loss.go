package swap

import (
	"math"

	"github.com/facesynth/facesynth/internal/torch"
)

// losses are one side's loss terms for a batch.
type losses struct {
	face  *torch.Tensor // L1 inside the mask (+ DSSIM·weight)
	mask  *torch.Tensor // BCE of the predicted mask against the hull mask
	total *torch.Tensor
}

// lossConfig weighs the terms.
type lossConfig struct {
	dssim float64 // weight of DSSIM added to the face L1 (0: L1 only)
	mask  float64 // weight of the mask loss
}

// sideLoss scores a decoder's output against an undistorted target.
//
// The face term looks only inside the target's hull mask (the background is
// the blend's business, not the decoder's): Σ|rgb − target|·m / (3·Σm),
// the mean absolute error per face pixel and channel. maskSum is Σm,
// known on the host when the batch is built.
func sideLoss(rgb, maskLogits, target, mask *torch.Tensor, maskSum float64, c lossConfig) losses {
	diff := torch.Mul(torch.Abs(torch.Sub(rgb, target)), mask)
	face := torch.MulScalar(torch.Sum(diff), 1/(3*math.Max(maskSum, 1)))
	if c.dssim > 0 {
		face = torch.Add(face, torch.MulScalar(dssim(torch.Mul(rgb, mask), torch.Mul(target, mask)), c.dssim))
	}
	m := torch.BCEWithLogits(maskLogits, mask)
	return losses{face: face, mask: m, total: torch.Add(face, torch.MulScalar(m, c.mask))}
}

// ssimWindow is the usual SSIM window: an 11×11 Gaussian with σ 1.5.
const (
	ssimSize  = 11
	ssimSigma = 1.5
	ssimC1    = 0.01 * 0.01 // (k1·L)² for L = 1
	ssimC2    = 0.03 * 0.03
)

// gaussianWindow is the normalised ssimSize² Gaussian, repeated as a
// depthwise kernel (ch, 1, k, k).
func gaussianWindow(ch int) *torch.Tensor {
	g := make([]float64, ssimSize)
	var sum float64
	for i := range g {
		d := float64(i - ssimSize/2)
		g[i] = math.Exp(-d * d / (2 * ssimSigma * ssimSigma))
		sum += g[i]
	}
	w := make([]float32, 0, ch*ssimSize*ssimSize)
	for range ch {
		for _, a := range g {
			for _, b := range g {
				w = append(w, float32(a*b/(sum*sum)))
			}
		}
	}
	return torch.FromFloat32(w, int64(ch), 1, ssimSize, ssimSize)
}

// dssim is (1 − SSIM)/2 of two image batches (N, 3, H, W) in [0, 1],
// the structural dissimilarity, with local statistics over the Gaussian
// window (valid positions only). The five local means (x, y, x², y², xy)
// come from one depthwise convolution over their channel stack.
func dssim(x, y *torch.Tensor) *torch.Tensor {
	ch := x.Size(1)
	stack := torch.Cat([]*torch.Tensor{x, y, torch.Mul(x, x), torch.Mul(y, y), torch.Mul(x, y)}, 1)
	win := gaussianWindow(int(5 * ch))
	if d := x.Device(); d != torch.CPU {
		win = win.To(d)
	}
	mu := torch.Conv2d(stack, win, nil, torch.ConvOpts{Groups: int(5 * ch)})
	part := func(k int64) *torch.Tensor { return torch.Narrow(mu, 1, k*ch, ch) }
	mx, my, mxx, myy, mxy := part(0), part(1), part(2), part(3), part(4)
	mx2, my2, mxmy := torch.Mul(mx, mx), torch.Mul(my, my), torch.Mul(mx, my)
	vx, vy, cov := torch.Sub(mxx, mx2), torch.Sub(myy, my2), torch.Sub(mxy, mxmy)
	num := torch.Mul(torch.AddScalar(torch.MulScalar(mxmy, 2), ssimC1), torch.AddScalar(torch.MulScalar(cov, 2), ssimC2))
	den := torch.Mul(torch.AddScalar(torch.Add(mx2, my2), ssimC1), torch.AddScalar(torch.Add(vx, vy), ssimC2))
	return torch.MulScalar(torch.SubFrom(1, torch.Mean(torch.Div(num, den))), 0.5)
}
