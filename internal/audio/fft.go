package audio

import (
	"fmt"
	"math"
	"math/bits"
)

// fft is an in-place radix-2 FFT of one size with its tables precomputed:
// speech frames are a few hundred samples, where a plain iterative
// Cooley–Tukey is within a small factor of anything cleverer.
type fft struct {
	n       int
	twiddle []complex128 // exp(-2πik/n) for k < n/2
	rev     []int        // bit-reversal permutation
}

func newFFT(n int) (*fft, error) {
	if n < 2 || n&(n-1) != 0 {
		return nil, fmt.Errorf("audio: FFT size %d is not a power of two ≥ 2", n)
	}
	f := &fft{n: n, twiddle: make([]complex128, n/2), rev: make([]int, n)}
	for k := range f.twiddle {
		s, c := math.Sincos(-2 * math.Pi * float64(k) / float64(n))
		f.twiddle[k] = complex(c, s)
	}
	shift := bits.UintSize - bits.TrailingZeros(uint(n))
	for i := range f.rev {
		f.rev[i] = int(bits.Reverse(uint(i)) >> shift)
	}
	return f, nil
}

// transform replaces x (len n) by its DFT, X[k] = Σ x[j]·exp(-2πijk/n).
func (f *fft) transform(x []complex128) {
	n := f.n
	x = x[:n]
	for i, j := range f.rev {
		if i < j {
			x[i], x[j] = x[j], x[i]
		}
	}
	for size := 2; size <= n; size <<= 1 {
		half, step := size/2, n/size
		for start := 0; start < n; start += size {
			for k := 0; k < half; k++ {
				w := f.twiddle[k*step]
				a, b := x[start+k], x[start+k+half]*w
				x[start+k], x[start+k+half] = a+b, a-b
			}
		}
	}
}

// nextPow2 is the smallest power of two ≥ n (and ≥ 2).
func nextPow2(n int) int {
	p := 2
	for p < n {
		p <<= 1
	}
	return p
}
