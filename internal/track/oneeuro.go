package track

import "math"

// oneEuro is the 1€ filter of Casiez, Roussel and Vogel (CHI 2012) for one
// coordinate: a first-order low-pass whose cutoff rises with the signal's
// speed, so that a still face is smoothed hard (jitter removed) while fast
// motion passes with little lag.
//
// The speed is divided by a scale (the face's size in pixels) before it
// raises the cutoff, so that Beta means the same for a small face far away
// and a close-up: speed is measured in face sizes per second.
type oneEuro struct {
	minCutoff, beta, dCutoff float64 // Hz, 1/(face sizes/s), Hz
	rate                     float64 // samples per second

	started bool
	x, dx   float64 // filtered value and filtered speed
}

// alpha is the smoothing factor of an exponential low-pass with the given
// cutoff frequency at the filter's sample rate.
func (f *oneEuro) alpha(cutoff float64) float64 {
	tau := 1 / (2 * math.Pi * cutoff)
	return 1 / (1 + tau*f.rate)
}

// filter takes the next raw sample and the current scale and returns the
// smoothed value.
func (f *oneEuro) filter(x, scale float64) float64 {
	if !f.started {
		f.started = true
		f.x, f.dx = x, 0
		return x
	}
	d := (x - f.x) * f.rate
	a := f.alpha(f.dCutoff)
	f.dx += a * (d - f.dx)
	cutoff := f.minCutoff + f.beta*math.Abs(f.dx)/math.Max(scale, 1)
	f.x += f.alpha(cutoff) * (x - f.x)
	return f.x
}
