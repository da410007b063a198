package audio

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/testmedia"
)

// sine is amp·sin(2πf t) sampled at rate for n samples.
func sine(n, rate int, f, amp float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(amp * math.Sin(2*math.Pi*f*float64(i)/float64(rate)))
	}
	return out
}

// noise is Gaussian white noise of standard deviation sigma.
func noise(n int, sigma float64, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 7))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(sigma * rng.NormFloat64())
	}
	return out
}

// jfk is the 11 s speech sample, decoded in Go.
func jfk(t testing.TB) ([]float32, int) {
	t.Helper()
	b, err := os.ReadFile(testmedia.Path(t, "jfk.wav"))
	if err != nil {
		t.Fatal(err)
	}
	pcm, rate, err := DecodeWAV(b)
	if err != nil {
		t.Fatal(err)
	}
	return pcm, rate
}

func TestDB(t *testing.T) {
	for _, c := range []struct{ rms, want float64 }{
		{1, 0}, {0.1, -20}, {0.5 / math.Sqrt2, -9.0309}, {0, SilenceDB}, {math.NaN(), SilenceDB}, {1e-9, SilenceDB},
	} {
		if got := DB(c.rms); math.Abs(got-c.want) > 1e-3 {
			t.Errorf("DB(%g) = %g, want %g", c.rms, got, c.want)
		}
	}
	if got := PeakDB([]float32{0.1, -0.5, 0.25}); math.Abs(got-(-6.0206)) > 1e-3 {
		t.Errorf("PeakDB = %g, want -6.02", got)
	}
}

func TestFrameCount(t *testing.T) {
	for _, c := range []struct {
		samples, rate int
		fps           float64
		want          int
	}{
		{176000, 16000, 25, 275}, // exactly 11 s
		{176001, 16000, 25, 276}, // one sample into the next frame
		{16000, 16000, 29.97, 30},
		{0, 16000, 25, 0},
		{100, 16000, 0, 0},
	} {
		if got := FrameCount(c.samples, c.rate, c.fps); got != c.want {
			t.Errorf("FrameCount(%d, %d, %g) = %d, want %d", c.samples, c.rate, c.fps, got, c.want)
		}
	}
}

func TestWindowCentresOnFrame(t *testing.T) {
	pcm := make([]float32, 100)
	for i := range pcm {
		pcm[i] = float32(i)
	}
	// Frame 0 at 10 fps and 100 Hz covers samples 0..9, centred at 0.05 s = sample 5.
	w := Window(nil, pcm, 100, FrameTime(0, 10), 10)
	for i, v := range w {
		if v != float32(i) {
			t.Fatalf("window %v, want samples 0..9", w)
		}
	}
	// Past the end the window is zero-padded, not wrapped.
	w = Window(w, pcm, 100, FrameTime(9, 10)+0.05, 10)
	if w[0] != 95 || w[4] != 99 || w[5] != 0 || w[9] != 0 {
		t.Fatalf("window at the end %v, want 95..99 then zeros", w)
	}
}

func TestEnvelopeOfSine(t *testing.T) {
	const rate = 16000
	pcm := sine(rate, rate, 440, 0.5) // 1 s
	env := Envelope(pcm, rate, 25, 30)
	want := 20 * math.Log10(0.5/math.Sqrt2) // -9.03 dB
	for i := 1; i < 24; i++ {
		if math.Abs(env[i]-want) > 0.05 {
			t.Errorf("frame %d: %.3f dB, want %.3f", i, env[i], want)
		}
	}
	for i := 25; i < 30; i++ {
		if env[i] != SilenceDB {
			t.Errorf("frame %d past the end: %.1f dB, want SilenceDB", i, env[i])
		}
	}
}

// The envelope of jfk.wav ("And so my fellow Americans … ask not … what
// your country can do for you … ask what you can do for your country")
// must show its three long pauses, found by listening: after "Americans",
// after "ask not" and after "for you".
func TestEnvelopeShowsPausesOfJFK(t *testing.T) {
	pcm, rate := jfk(t)
	const fps = 25
	n := FrameCount(len(pcm), rate, fps)
	if n != 275 {
		t.Fatalf("%d frames, want 275 (11 s at 25 fps)", n)
	}
	env := Envelope(pcm, rate, fps, n)
	speech := percentile(env, 0.9)
	if speech < -15 || speech > -5 {
		t.Fatalf("90th percentile %.1f dB, want speech around -10 dB", speech)
	}
	// A pause: at least 0.3 s quieter than 25 dB below the speech level.
	quiet := speech - 25
	var pauses [][2]float64
	for i := 0; i < n; {
		if env[i] >= quiet {
			i++
			continue
		}
		j := i
		for j < n && env[j] < quiet {
			j++
		}
		if float64(j-i) >= 0.3*fps && i > 0 && j < n { // inside the clip, not its ends
			pauses = append(pauses, [2]float64{float64(i) / fps, float64(j) / fps})
		}
		i = j
	}
	want := [][2]float64{{2.1, 3.25}, {4.3, 5.4}, {7.6, 8.15}}
	if len(pauses) != len(want) {
		t.Fatalf("pauses %v, want 3 near %v", pauses, want)
	}
	for k, p := range pauses {
		if math.Abs(p[0]-want[k][0]) > 0.15 || math.Abs(p[1]-want[k][1]) > 0.15 {
			t.Errorf("pause %d at %.2f..%.2f s, want %.2f..%.2f ± 0.15", k, p[0], p[1], want[k][0], want[k][1])
		}
	}
	t.Logf("speech level %.1f dB; pauses %v", speech, pauses)
}

func percentile(v []float64, p float64) float64 {
	s := append([]float64(nil), v...)
	for i := 1; i < len(s); i++ { // insertion sort: a few hundred values
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s[int(p*float64(len(s)-1))]
}

func TestFFTMatchesDFT(t *testing.T) {
	const n = 64
	f, err := newFFT(n)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]complex128, n)
	for i := range x {
		x[i] = complex(rng.NormFloat64(), rng.NormFloat64())
	}
	want := make([]complex128, n)
	for k := range want {
		for j, v := range x {
			s, c := math.Sincos(-2 * math.Pi * float64(j*k) / n)
			want[k] += v * complex(c, s)
		}
	}
	f.transform(x)
	for k := range x {
		if d := x[k] - want[k]; math.Hypot(real(d), imag(d)) > 1e-9 {
			t.Fatalf("bin %d: %v, want %v", k, x[k], want[k])
		}
	}
	if _, err := newFFT(48); err == nil {
		t.Error("newFFT(48) succeeded, want an error: not a power of two")
	}
}

// White noise has a flat spectrum, and the filterbank's bands are means
// of power, so every band holds σ²: the log-mel spectrum is flat at ln σ²,
// c0 = √Mels·ln σ² and every other coefficient is 0.
func TestMFCCOfWhiteNoise(t *testing.T) {
	cfg := SpeechConfig(16000)
	cfg.PreEmphasis = 0 // pre-emphasis would tilt the flat spectrum
	a, err := NewAnalyzer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const sigma = 0.1
	pcm := noise(16000*20, sigma, 1)
	// Average band power over many windows before the log: the log of one
	// window's few-bin bands is biased low by their chi-square spread.
	mean := make([]float64, cfg.Mels)
	frames := 0
	var lm []float64
	for start := 0; start+cfg.Window <= len(pcm); start += cfg.Window {
		lm = a.LogMel(lm, pcm[start:start+cfg.Window])
		for m, v := range lm {
			mean[m] += math.Exp(v)
		}
		frames++
	}
	for m := range mean {
		mean[m] = math.Log(mean[m] / float64(frames))
	}
	c := a.Cepstrum(nil, mean)
	want0 := math.Sqrt(float64(cfg.Mels)) * math.Log(sigma*sigma)
	if math.Abs(c[0]-want0) > 0.15 {
		t.Errorf("c0 = %.3f, want √40·ln σ² = %.3f", c[0], want0)
	}
	for k := 1; k < len(c); k++ {
		if math.Abs(c[k]) > 0.1 {
			t.Errorf("c%d = %.3f, want ≈ 0 for a flat spectrum", k, c[k])
		}
	}
	t.Logf("c0 %.3f (want %.3f), c1..c12 %.3f", c[0], want0, c[1:])
}

// A tone puts its energy in the mel band centred nearest its frequency, and
// doubling the amplitude adds 2·ln 2 to every log band: c0 rises by
// √Mels·2·ln 2 and the shape coefficients do not move.
func TestMFCCOfTone(t *testing.T) {
	const rate = 16000
	a, err := NewAnalyzer(SpeechConfig(rate))
	if err != nil {
		t.Fatal(err)
	}
	cfg := a.Config()
	if cfg.Window != 400 || cfg.FFTSize != 512 {
		t.Fatalf("speech config window %d, FFT %d; want 400 and 512", cfg.Window, cfg.FFTSize)
	}
	for _, hz := range []float64{300, 1000, 3000} {
		tone := sine(cfg.Window, rate, hz, 0.3)
		lm := a.LogMel(nil, tone)
		best := 0
		for m := range lm {
			if lm[m] > lm[best] {
				best = m
			}
		}
		spacing := a.BandCenter(best+1) - a.BandCenter(best)
		if d := math.Abs(a.BandCenter(best) - hz); d > spacing {
			t.Errorf("%g Hz tone peaks in band %d centred at %.0f Hz, more than a band (%.0f Hz) away", hz, best, a.BandCenter(best), spacing)
		}
	}
	pcm := sine(cfg.Window, rate, 1000, 0.3)
	bg := noise(cfg.Window, 0.001, 2) // keeps far bands off the log floor, so scaling is exact
	loud := make([]float32, len(pcm))
	for i := range pcm {
		pcm[i] += bg[i]
		loud[i] = 2 * pcm[i]
	}
	c1, c2 := a.MFCC(nil, pcm), a.MFCC(nil, loud)
	if d, want := c2[0]-c1[0], math.Sqrt(40)*2*math.Ln2; math.Abs(d-want) > 1e-4 {
		t.Errorf("doubling the amplitude moved c0 by %.5f, want %.5f", d, want)
	}
	for k := 1; k < len(c1); k++ {
		if math.Abs(c2[k]-c1[k]) > 1e-4 {
			t.Errorf("doubling the amplitude moved c%d from %.5f to %.5f", k, c1[k], c2[k])
		}
	}
}

// In jfk.wav the pauses hold room noise about 30 dB below the speech: c0,
// the log energy, must tell them apart frame by frame.
func TestMFCCFramesOfJFK(t *testing.T) {
	pcm, rate := jfk(t)
	n := FrameCount(len(pcm), rate, 25)
	mf, err := MFCC(pcm, rate, 25, n)
	if err != nil {
		t.Fatal(err)
	}
	if len(mf) != n || len(mf[0]) != 13 {
		t.Fatalf("MFCC gave %d×%d, want %d×13", len(mf), len(mf[0]), n)
	}
	env := Envelope(pcm, rate, 25, n)
	var speech, pause []float64
	for i := range mf {
		switch {
		case env[i] > -15:
			speech = append(speech, mf[i][0])
		case env[i] < -35:
			pause = append(pause, mf[i][0])
		}
	}
	// 15 dB in power is ln(10^1.5) = 3.45 per band, √40·3.45 = 21.8 in c0.
	// (The envelope says 29 dB; pre-emphasis takes some of it, as speech
	// is loudest at low frequencies and room noise is not.)
	if d := mean(speech) - mean(pause); d < 21.8 {
		t.Errorf("c0 speech − pause = %.1f, want ≥ 21.8 (15 dB)", d)
	}
	// And frame by frame: no pause frame is as loud as the quietest speech frame.
	if lo, hi := minOf(speech), maxOf(pause); hi >= lo {
		t.Errorf("c0 of a pause frame (%.1f) reaches that of a speech frame (%.1f)", hi, lo)
	}
	t.Logf("c0 speech %.1f (min %.1f), pause %.1f (max %.1f) over %d/%d frames",
		mean(speech), minOf(speech), mean(pause), maxOf(pause), len(speech), len(pause))
}

func minOf(v []float64) float64 {
	m := math.Inf(1)
	for _, x := range v {
		m = min(m, x)
	}
	return m
}

func maxOf(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func TestAnalyzerRejectsBadConfig(t *testing.T) {
	good := SpeechConfig(16000)
	for name, edit := range map[string]func(*Config){
		"rate":        func(c *Config) { c.Rate = 0 },
		"window":      func(c *Config) { c.Window = 1 },
		"fft":         func(c *Config) { c.FFTSize = 256 },
		"coeffs":      func(c *Config) { c.Coeffs = 41 },
		"nyquist":     func(c *Config) { c.MaxHz = 9000 },
		"preemphasis": func(c *Config) { c.PreEmphasis = 1 },
		"narrow band": func(c *Config) { c.Mels = 200 },
	} {
		cfg := good
		edit(&cfg)
		if _, err := NewAnalyzer(cfg); err == nil {
			t.Errorf("%s: NewAnalyzer(%+v) succeeded, want an error", name, cfg)
		} else if err.Error()[:7] != "audio: " {
			t.Errorf("%s: error %q lacks the package prefix", name, err)
		}
	}
}

func TestResample(t *testing.T) {
	// 1 kHz from 22.05 kHz (espeak-ng's rate) to 16 kHz stays the same sine.
	in := sine(22050, 22050, 1000, 0.5)
	out, err := Resample(in, 22050, 16000)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 16000 {
		t.Fatalf("%d samples, want 16000", len(out))
	}
	want := sine(16000, 16000, 1000, 0.5)
	var e2 float64
	for i := 200; i < 15800; i++ { // the ends see the zero padding
		d := float64(out[i] - want[i])
		e2 += d * d
	}
	if errDB := DB(math.Sqrt(e2 / 15600)); errDB > -70 {
		t.Errorf("resampled sine differs by %.1f dBFS RMS, want ≤ -70", errDB)
	}
	// 10 kHz cannot exist at 16 kHz; it must be filtered, not aliased to 6 kHz.
	out, _ = Resample(sine(22050, 22050, 10000, 0.5), 22050, 16000)
	if lvl := DB(RMS(out[200:15800])); lvl > -60 {
		t.Errorf("10 kHz tone after resampling to 16 kHz is at %.1f dBFS, want ≤ -60", lvl)
	}
	// Upsampling 8 kHz telephone audio.
	out, _ = Resample(sine(8000, 8000, 440, 0.5), 8000, 16000)
	want = sine(16000, 16000, 440, 0.5)
	e2 = 0
	for i := 200; i < 15800; i++ {
		d := float64(out[i] - want[i])
		e2 += d * d
	}
	if errDB := DB(math.Sqrt(e2 / 15600)); errDB > -70 {
		t.Errorf("upsampled sine differs by %.1f dBFS RMS, want ≤ -70", errDB)
	}
	if _, err := Resample(in, 0, 16000); err == nil {
		t.Error("Resample from 0 Hz succeeded")
	}
}

// DecodeWAV must read jfk.wav to exactly the samples ffmpeg decodes.
func TestDecodeWAVMatchesFFmpeg(t *testing.T) {
	pcm, rate := jfk(t)
	ref, err := media.ReadAudio(context.Background(), testmedia.Path(t, "jfk.wav"), 16000)
	if err != nil {
		t.Fatal(err)
	}
	if rate != 16000 || len(pcm) != len(ref) {
		t.Fatalf("%d samples at %d Hz, ffmpeg has %d at 16000", len(pcm), rate, len(ref))
	}
	for i := range pcm {
		if pcm[i] != ref[i] {
			t.Fatalf("sample %d: %g, ffmpeg %g", i, pcm[i], ref[i])
		}
	}
}

func TestDecodeWAVStreamedAndBroken(t *testing.T) {
	path := t.TempDir() + "/x.wav"
	want := []float32{0, 0.5, -0.5, 0.25}
	if err := media.WriteWAV(path, want, 22050); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// A pipe writer cannot know the length: espeak-ng --stdout writes 0x7ffff000.
	b[40], b[41], b[42], b[43] = 0x00, 0xf0, 0xff, 0x7f
	got, rate, err := DecodeWAV(b)
	if err != nil || rate != 22050 || len(got) != 4 {
		t.Fatalf("streamed WAV: %d samples at %d Hz, %v; want 4 at 22050", len(got), rate, err)
	}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1.0/32767 {
			t.Errorf("sample %d = %g, want %g", i, got[i], want[i])
		}
	}
	for name, bad := range map[string][]byte{
		"empty":   nil,
		"text":    []byte("hello, this is not a wav file at all"),
		"no data": b[:36],
	} {
		if _, _, err := DecodeWAV(bad); err == nil {
			t.Errorf("%s: decoded, want an error", name)
		}
	}
}

// One Analyzer serves several goroutines (the scratch buffers are pooled):
// each gets the same answer it would alone.
func TestAnalyzerConcurrent(t *testing.T) {
	a, err := NewAnalyzer(SpeechConfig(16000))
	if err != nil {
		t.Fatal(err)
	}
	windows := make([][]float32, 8)
	want := make([][]float64, len(windows))
	for i := range windows {
		windows[i] = noise(400, 0.01*float64(i+1), uint64(i))
		want[i] = a.MFCC(nil, windows[i])
	}
	errs := make(chan string, len(windows))
	done := make(chan struct{})
	for i := range windows {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 200 {
				got := a.MFCC(nil, windows[i])
				for k := range got {
					if got[k] != want[i][k] {
						errs <- "concurrent MFCC differs"
						return
					}
				}
			}
		}()
	}
	for range windows {
		<-done
	}
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}
