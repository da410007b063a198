package audio

import (
	"fmt"
	"math"
	"sync"
)

// Resampling kernel: a Blackman-windowed sinc with resampleZeros zero
// crossings on each side, cut off at resampleCutoff of the lower Nyquist
// frequency. The transition band then ends below the new Nyquist frequency
// (little aliasing), and 32 zero crossings keep the stop band near the
// Blackman window's −74 dB, well under the noise of 16-bit speech.
const (
	resampleZeros  = 32
	resampleCutoff = 0.9
)

// Resample converts mono samples from one rate to another (Hz) with a
// band-limited interpolator, so 22.05 kHz synthesizer output can feed a
// 16 kHz speech recognizer without aliasing. The result has
// round(len·to/from) samples; equal rates give a copy.
func Resample(pcm []float32, from, to int) ([]float32, error) {
	if from <= 0 || to <= 0 {
		return nil, fmt.Errorf("audio: resample %d Hz to %d Hz: %w", from, to, errRate)
	}
	if from == to {
		return append([]float32(nil), pcm...), nil
	}
	n := int(math.Round(float64(len(pcm)) * float64(to) / float64(from)))
	out := make([]float32, n)
	// r is the cut-off as a fraction of the input rate's Nyquist frequency;
	// the kernel is stretched by 1/r, so downsampling looks at more input.
	r := resampleCutoff * min(1, float64(to)/float64(from))
	half := float64(resampleZeros) / r // kernel half-width in input samples
	step := float64(from) / float64(to)
	kernel := resampleKernel()
	for j := range out {
		x := float64(j) * step // position of output sample j in input samples
		lo := max(0, int(math.Ceil(x-half)))
		hi := min(len(pcm)-1, int(math.Floor(x+half)))
		var acc float64
		for i := lo; i <= hi; i++ {
			// Linear interpolation in the table: at 512 steps per zero
			// crossing its error is far below the window's stop band.
			v := math.Abs(x-float64(i)) * r * kernelSteps
			k := int(v)
			if k >= len(kernel)-1 {
				continue
			}
			f := v - float64(k)
			acc += float64(pcm[i]) * (kernel[k] + f*(kernel[k+1]-kernel[k]))
		}
		out[j] = float32(acc * r)
	}
	return out, nil
}

// kernelSteps is the resolution of the tabulated kernel, per zero crossing.
const kernelSteps = 512

// resampleKernel is sinc(v)·blackman(v/resampleZeros) for v = 0, 1/512, …,
// resampleZeros: the kernel's right half, computed once. Evaluating sin and
// cos for each tap made resampling ten times slower.
var resampleKernel = sync.OnceValue(func() []float64 {
	k := make([]float64, resampleZeros*kernelSteps+1)
	for i := range k {
		v := float64(i) / kernelSteps
		k[i] = sinc(v) * blackman(v/resampleZeros)
	}
	return k
})

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// blackman is the Blackman window on [−1, 1], centred at 0.
func blackman(t float64) float64 {
	if t <= -1 || t >= 1 {
		return 0
	}
	return 0.42 + 0.5*math.Cos(math.Pi*t) + 0.08*math.Cos(2*math.Pi*t)
}
