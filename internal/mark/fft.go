package mark

import (
	"math"
	"math/bits"
	"math/cmplx"
)

// fft is an in-place radix-2 FFT over a power-of-two length. The detector
// only needs it on the tile grid (tileSize², a few per clip), so a plain
// iterative version is fast enough and keeps the package free of
// dependencies.
type fft struct {
	n       int
	twiddle []complex128 // e^{-2πik/n}, k < n/2
	rev     []int        // bit-reversal permutation
}

func newFFT(n int) *fft {
	if n < 2 || n&(n-1) != 0 {
		panic("mark: fft length must be a power of two") // internal sizes only
	}
	f := &fft{n: n, twiddle: make([]complex128, n/2), rev: make([]int, n)}
	for k := range f.twiddle {
		f.twiddle[k] = cmplx.Rect(1, -2*math.Pi*float64(k)/float64(n))
	}
	shift := 64 - bits.Len(uint(n-1))
	for i := range f.rev {
		f.rev[i] = int(bits.Reverse64(uint64(i)) >> shift)
	}
	return f
}

// transform runs the FFT on x in place; inverse gives the unnormalised
// inverse transform (the caller divides by n where it matters).
func (f *fft) transform(x []complex128, inverse bool) {
	n := f.n
	for i, j := range f.rev {
		if i < j {
			x[i], x[j] = x[j], x[i]
		}
	}
	for size := 2; size <= n; size <<= 1 {
		half, step := size/2, n/size
		for start := 0; start < n; start += size {
			for k := range half {
				w := f.twiddle[k*step]
				if inverse {
					w = cmplx.Conj(w)
				}
				a, b := x[start+k], x[start+k+half]*w
				x[start+k], x[start+k+half] = a+b, a-b
			}
		}
	}
}

// transform2D runs the FFT over the rows and then the columns of an n×n
// grid stored row-major.
func (f *fft) transform2D(x []complex128, inverse bool) {
	n := f.n
	col := make([]complex128, n)
	for y := range n {
		f.transform(x[y*n:(y+1)*n], inverse)
	}
	for c := range n {
		for y := range n {
			col[y] = x[y*n+c]
		}
		f.transform(col, inverse)
		for y := range n {
			x[y*n+c] = col[y]
		}
	}
}
