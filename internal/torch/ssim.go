package torch

import (
	"fmt"
	"math"
)

// SSIM is the mean structural similarity of image batches x and y (N, C,
// H, W) with values in [0, 1], after Wang et al. 2004: Gaussian-weighted
// local means, variances and covariance over a window×window window of
// standard deviation sigma (11 and 1.5 in the paper), constants
// (0.01·1)² and (0.03·1)², only windows that fit inside the image ("valid",
// as Keras' DSSIM that face-swap trainers use). It is differentiable.
func SSIM(x, y *Tensor, window int, sigma float64) *Tensor {
	const op = "ssim"
	if err := check(op, x, y); err != nil {
		return &Tensor{err: err}
	}
	s := x.Shape()
	if len(s) != 4 || !sameShape(s, y.Shape()) {
		return errTensor(op, fmt.Errorf("want two (N, C, H, W) tensors of one shape, got %v and %v", s, y.Shape()))
	}
	if window < 1 || int64(window) > s[2] || int64(window) > s[3] || !(sigma > 0) {
		return errTensor(op, fmt.Errorf("window %d with sigma %v does not fit %dx%d images", window, sigma, s[3], s[2]))
	}
	return Scoped(func() *Tensor { return ssim(x, y, s[1], window, sigma) })
}

func ssim(x, y *Tensor, c int64, window int, sigma float64) *Tensor {
	// One normalised 2-D Gaussian per channel, applied as a depthwise
	// convolution (groups = channels) so channels do not mix.
	g := make([]float64, window)
	var sum float64
	for i := range g {
		d := float64(i) - float64(window-1)/2
		g[i] = math.Exp(-d * d / (2 * sigma * sigma))
		sum += g[i]
	}
	k := make([]float32, 0, int(c)*window*window)
	for range c {
		for i := range window {
			for j := range window {
				k = append(k, float32(g[i]*g[j]/(sum*sum)))
			}
		}
	}
	w := FromFloat32(k, c, 1, int64(window), int64(window)).To(x.Device())
	blur := func(t *Tensor) *Tensor { return Conv2d(t, w, nil, ConvOpts{Groups: int(c)}) }

	const c1, c2 = 0.01 * 0.01, 0.03 * 0.03
	muX, muY := blur(x), blur(y)
	muXX, muYY, muXY := Mul(muX, muX), Mul(muY, muY), Mul(muX, muY)
	varX := Sub(blur(Mul(x, x)), muXX)
	varY := Sub(blur(Mul(y, y)), muYY)
	cov := Sub(blur(Mul(x, y)), muXY)
	num := Mul(AddScalar(MulScalar(muXY, 2), c1), AddScalar(MulScalar(cov, 2), c2))
	den := Mul(AddScalar(Add(muXX, muYY), c1), AddScalar(Add(varX, varY), c2))
	return Mean(Div(num, den))
}

// DSSIM is the structural dissimilarity (1 − SSIM)/2, a loss in [0, 1].
func DSSIM(x, y *Tensor, window int, sigma float64) *Tensor {
	return MulScalar(SubFrom(1, SSIM(x, y, window, sigma)), 0.5)
}
