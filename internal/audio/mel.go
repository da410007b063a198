package audio

import (
	"fmt"
	"math"
	"sync"
)

// Config describes a log-mel and MFCC analysis of one window of samples.
type Config struct {
	Rate    int // sample rate in Hz
	Window  int // samples per analysis window, Hann-weighted
	FFTSize int // a power of two ≥ Window; 0 means the next one
	Mels    int // mel bands
	Coeffs  int // MFCCs kept, c0 (the log energy term) included

	MinHz, MaxHz float64 // edges of the mel filterbank; MaxHz 0 means Rate/2

	// PreEmphasis is a in y[i] = x[i] − a·x[i−1], applied before the
	// window. Speech front ends use 0.97 to lift the −6 dB/octave tilt of
	// voiced speech so the upper formants weigh in; 0 turns it off.
	PreEmphasis float64
}

// SpeechConfig is the usual speech front end at rate: 25 ms windows, 40 mel
// bands from 20 Hz to 8 kHz (or Nyquist), 13 MFCCs, pre-emphasis 0.97.
func SpeechConfig(rate int) Config {
	return Config{
		Rate:        rate,
		Window:      max(1, int(math.Round(0.025*float64(rate)))),
		Mels:        40,
		Coeffs:      13,
		MinHz:       20,
		MaxHz:       min(8000, float64(rate)/2),
		PreEmphasis: 0.97,
	}
}

// Analyzer computes log-mel spectra and MFCCs for one Config. Its tables are
// built once by NewAnalyzer; it is safe for concurrent use.
type Analyzer struct {
	cfg   Config
	fft   *fft
	hann  []float64
	norm  float64   // 1/Σ hann², so a power spectrum bin of white noise is its variance
	bands []melBand // the filterbank
	dct   []float64 // Coeffs×Mels orthonormal DCT-II, row-major

	scratch sync.Pool // *[]complex128 of FFTSize
}

// melBand is one triangular filter over FFT bins first, first+1, …; its
// weights sum to 1, so the band's value is the mean power under the
// triangle and a flat spectrum gives equal bands (white noise: a flat
// log-mel spectrum and zero MFCCs past c0).
type melBand struct {
	first  int
	weight []float64
}

// NewAnalyzer checks cfg and builds its FFT, window, filterbank and DCT.
func NewAnalyzer(cfg Config) (*Analyzer, error) {
	if cfg.Rate <= 0 {
		return nil, errRate
	}
	if cfg.Window < 2 {
		return nil, fmt.Errorf("audio: analysis window of %d samples, want ≥ 2", cfg.Window)
	}
	if cfg.FFTSize == 0 {
		cfg.FFTSize = nextPow2(cfg.Window)
	}
	if cfg.FFTSize < cfg.Window {
		return nil, fmt.Errorf("audio: FFT size %d is shorter than the %d-sample window", cfg.FFTSize, cfg.Window)
	}
	if cfg.MaxHz == 0 {
		cfg.MaxHz = float64(cfg.Rate) / 2
	}
	if cfg.Mels < 1 || cfg.Coeffs < 1 || cfg.Coeffs > cfg.Mels {
		return nil, fmt.Errorf("audio: %d mel bands and %d coefficients, want 1 ≤ coefficients ≤ bands", cfg.Mels, cfg.Coeffs)
	}
	if !(cfg.MinHz >= 0 && cfg.MinHz < cfg.MaxHz && cfg.MaxHz <= float64(cfg.Rate)/2) {
		return nil, fmt.Errorf("audio: mel range %g..%g Hz, want 0 ≤ min < max ≤ %g (Nyquist)", cfg.MinHz, cfg.MaxHz, float64(cfg.Rate)/2)
	}
	if !(cfg.PreEmphasis >= 0 && cfg.PreEmphasis < 1) {
		return nil, fmt.Errorf("audio: pre-emphasis %g, want 0 ≤ a < 1", cfg.PreEmphasis)
	}
	f, err := newFFT(cfg.FFTSize)
	if err != nil {
		return nil, err
	}
	a := &Analyzer{cfg: cfg, fft: f}
	a.hann = make([]float64, cfg.Window)
	var sum2 float64
	for i := range a.hann {
		// The periodic Hann window: overlapping frames at half-window hops
		// add up to a constant.
		a.hann[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(cfg.Window))
		sum2 += a.hann[i] * a.hann[i]
	}
	a.norm = 1 / sum2
	if a.bands, err = melBank(cfg); err != nil {
		return nil, err
	}
	a.dct = dctMatrix(cfg.Coeffs, cfg.Mels)
	a.scratch.New = func() any {
		b := make([]complex128, cfg.FFTSize)
		return &b
	}
	return a, nil
}

// Config is the configuration the analyzer was built with, defaults filled in.
func (a *Analyzer) Config() Config { return a.cfg }

// Mel converts Hz to the mel scale (O'Shaughnessy's formula, as in HTK).
func Mel(hz float64) float64 { return 2595 * math.Log10(1+hz/700) }

// Hz converts mels back to Hz.
func Hz(mel float64) float64 { return 700 * (math.Pow(10, mel/2595) - 1) }

// BandCenter is the centre frequency in Hz of mel band m of the analyzer.
func (a *Analyzer) BandCenter(m int) float64 {
	lo, hi := Mel(a.cfg.MinHz), Mel(a.cfg.MaxHz)
	return Hz(lo + (hi-lo)*float64(m+1)/float64(a.cfg.Mels+1))
}

func melBank(cfg Config) ([]melBand, error) {
	lo, hi := Mel(cfg.MinHz), Mel(cfg.MaxHz)
	edge := make([]float64, cfg.Mels+2) // Hz: band m rises from edge[m] to edge[m+1], falls to edge[m+2]
	for i := range edge {
		edge[i] = Hz(lo + (hi-lo)*float64(i)/float64(cfg.Mels+1))
	}
	binHz := float64(cfg.Rate) / float64(cfg.FFTSize)
	bands := make([]melBand, cfg.Mels)
	for m := range bands {
		l, c, r := edge[m], edge[m+1], edge[m+2]
		first := int(math.Ceil(l / binHz))
		var w []float64
		var sum float64
		for k := first; float64(k)*binHz <= r && k <= cfg.FFTSize/2; k++ {
			f := float64(k) * binHz
			v := 0.0
			if f < c {
				v = (f - l) / (c - l)
			} else {
				v = (r - f) / (r - c)
			}
			v = max(0, v)
			w = append(w, v)
			sum += v
		}
		if sum == 0 {
			// Narrower than the bin spacing: the band would be a copy of
			// its neighbour's bin or empty.
			return nil, fmt.Errorf("audio: mel band %d (%.0f..%.0f Hz) holds no FFT bin of %.1f Hz; use fewer bands, a higher MinHz or a larger FFT", m, l, r, binHz)
		}
		for i := range w {
			w[i] /= sum
		}
		bands[m] = melBand{first: first, weight: w}
	}
	return bands, nil
}

// dctMatrix is the orthonormal DCT-II from n log-mel values to the first k
// cepstral coefficients: c_j = s_j Σ_m x_m cos(πj(m+½)/n), s_0 = √(1/n),
// s_j = √(2/n). Orthonormal scaling makes c0 = √n·mean and keeps
// Euclidean distances between spectra.
func dctMatrix(k, n int) []float64 {
	d := make([]float64, k*n)
	for j := 0; j < k; j++ {
		s := math.Sqrt(2 / float64(n))
		if j == 0 {
			s = math.Sqrt(1 / float64(n))
		}
		for m := 0; m < n; m++ {
			d[j*n+m] = s * math.Cos(math.Pi*float64(j)*(float64(m)+0.5)/float64(n))
		}
	}
	return d
}

// logFloor keeps log-mel values finite for silent windows: ln(1e-10) is
// −100 dB in power, below anything 16-bit audio can hold.
const logFloor = 1e-10

// LogMel puts the natural log of the mel band powers of one window into dst
// (reused when large enough, length Mels) and returns it. window holds
// Config.Window samples; a shorter one is zero-padded, a longer one cut.
func (a *Analyzer) LogMel(dst []float64, window []float32) []float64 {
	if cap(dst) < a.cfg.Mels {
		dst = make([]float64, a.cfg.Mels)
	}
	dst = dst[:a.cfg.Mels]
	bp := a.scratch.Get().(*[]complex128)
	x := *bp
	prev := 0.0 // the sample before the window is unknown; Hann's zero at i = 0 hides it anyway
	for i := range x {
		v := 0.0
		if i < a.cfg.Window && i < len(window) {
			s := float64(window[i])
			v = (s - a.cfg.PreEmphasis*prev) * a.hann[i]
			prev = s
		}
		x[i] = complex(v, 0)
	}
	a.fft.transform(x)
	for m, b := range a.bands {
		var e float64
		for i, w := range b.weight {
			c := x[b.first+i]
			e += w * (real(c)*real(c) + imag(c)*imag(c))
		}
		dst[m] = math.Log(max(e*a.norm, logFloor))
	}
	a.scratch.Put(bp)
	return dst
}

// Cepstrum puts the first Coeffs coefficients of the DCT of a log-mel
// spectrum (length Mels) into dst and returns it.
func (a *Analyzer) Cepstrum(dst, logMel []float64) []float64 {
	n, k := a.cfg.Mels, a.cfg.Coeffs
	if cap(dst) < k {
		dst = make([]float64, k)
	}
	dst = dst[:k]
	for j := range dst {
		row := a.dct[j*n : (j+1)*n]
		var s float64
		for m, v := range logMel[:n] {
			s += row[m] * v
		}
		dst[j] = s
	}
	return dst
}

// MFCC puts the mel-frequency cepstral coefficients of one window into dst
// (length Coeffs) and returns it.
func (a *Analyzer) MFCC(dst []float64, window []float32) []float64 {
	var buf [128]float64
	lm := buf[:0]
	if a.cfg.Mels > len(buf) {
		lm = nil
	}
	return a.Cepstrum(dst, a.LogMel(lm, window))
}

// LogMelFrames is the log-mel spectrum of a window centred on each of n
// video frames at fps (see FrameTime): n rows of Mels values.
func (a *Analyzer) LogMelFrames(pcm []float32, fps float64, n int) [][]float64 {
	out := make([][]float64, max(n, 0))
	var win []float32
	for i := range out {
		win = Window(win, pcm, a.cfg.Rate, FrameTime(i, fps), a.cfg.Window)
		out[i] = a.LogMel(nil, win)
	}
	return out
}

// MFCCFrames is the MFCCs of a window centred on each of n video frames at
// fps: n rows of Coeffs values.
func (a *Analyzer) MFCCFrames(pcm []float32, fps float64, n int) [][]float64 {
	out := a.LogMelFrames(pcm, fps, n)
	for i, lm := range out {
		out[i] = a.Cepstrum(nil, lm)
	}
	return out
}

// MFCC is the speech front end in one call: SpeechConfig(rate) MFCCs of a
// 25 ms window centred on each of n video frames at fps.
func MFCC(pcm []float32, rate int, fps float64, n int) ([][]float64, error) {
	a, err := NewAnalyzer(SpeechConfig(rate))
	if err != nil {
		return nil, err
	}
	if !(fps > 0) {
		return nil, fmt.Errorf("audio: frame rate %g, want > 0", fps)
	}
	return a.MFCCFrames(pcm, fps, n), nil
}
