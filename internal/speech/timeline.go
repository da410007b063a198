package speech

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/facesynth/facesynth/internal/audio"
)

// Source says what a timeline was derived from.
type Source string

const (
	// SourcePhones: phones recognised by pocketsphinx, shaped by visemes.
	SourcePhones Source = "phones"
	// SourceAcoustic: energy and spectral shape alone (AcousticTimeline),
	// for sound that is not recognisable speech or when pocketsphinx is
	// not installed.
	SourceAcoustic Source = "acoustic"
)

// horizon is how far (seconds) a phone's dominance is followed: the widest
// reach is 0.07 s, and exp(−0.5/0.07) is under 0.1 %.
const horizon = 0.5

// subSamples is how many instants of each video frame are averaged: a
// 25 fps frame lasts 40 ms, longer than many consonants, and sampling only
// its middle would let a phone vanish or flicker between frames.
const subSamples = 4

// Timeline is the mouth for each of n video frames at fps, shaped by the
// phones and co-articulated with dominance functions (see viseme). Every
// frame whose middle falls in a p, b or m, and the frame holding the middle
// of each, is Closed with Open 0, however short the phone.
//
// env, if not nil, is the loudness of each frame in dBFS (audio.Envelope):
// it scales the opening, so the jaw rests in pauses the recogniser filled
// with phones and opens wider on loud syllables. Frames past the phones
// are at rest. It returns nil when n ≤ 0 or fps ≤ 0.
func Timeline(phones []Phone, env []float64, fps float64, n int) []Mouth {
	if n <= 0 || !(fps > 0) {
		return nil
	}
	phones = slices.Clone(phones)
	slices.SortStableFunc(phones, func(a, b Phone) int {
		switch {
		case a.Start < b.Start:
			return -1
		case a.Start > b.Start:
			return 1
		}
		return 0
	})
	segs := segments(phones)
	out := make([]Mouth, n)
	first := 0 // segments before this one end more than horizon before the frame
	for i := range out {
		t0 := float64(i) / fps
		for first < len(segs) && segs[first].end < t0-horizon {
			first++
		}
		var m Mouth
		for k := 0; k < subSamples; k++ {
			s := blendAt(segs[first:], t0+(float64(k)+0.5)/(subSamples*fps))
			m.Open += s.Open / subSamples
			m.Width += s.Width / subSamples
			m.Round += s.Round / subSamples
		}
		out[i] = m
	}
	for _, s := range segs {
		if !s.v.closed {
			continue
		}
		closeFrame(out, int(math.Floor((s.start+s.end)/2*fps)))
		for i := int(math.Ceil(s.start*fps - 0.5)); float64(i)+0.5 <= s.end*fps; i++ {
			closeFrame(out, i)
		}
	}
	if env != nil {
		gateByLoudness(out, env)
	}
	return out
}

func closeFrame(out []Mouth, i int) {
	if i >= 0 && i < len(out) {
		out[i].Closed = true
		out[i].Open = 0
	}
}

// blendAt is the dominance-weighted mean of the viseme targets at time t;
// segs is sorted by start. Nothing within reach gives the rest mouth.
func blendAt(segs []segment, t float64) Mouth {
	var wo, wsh, open, width, round float64
	for _, s := range segs {
		if s.start > t+horizon {
			break
		}
		d := 0.0
		if t < s.start {
			d = s.start - t
		} else if t > s.end {
			d = t - s.end
		}
		if d > horizon {
			continue
		}
		f := math.Exp(-d / s.v.reach)
		o, sh := s.v.openWeight*f, s.v.shapeWeight*f
		wo += o
		wsh += sh
		open += o * s.v.open
		width += sh * s.v.width
		round += sh * s.v.round
	}
	var m Mouth
	if wo > 0 {
		m.Open = open / wo
	}
	if wsh > 0 {
		m.Width = width / wsh
		m.Round = round / wsh
	}
	return m
}

// loudness maps each frame's level to 0 (silence) .. 1 (full voice)
// against the clip's own speech level, its 90th percentile: the jaw
// opens with vocal effort, and a quiet recording is not a whisper. Levels
// more than 30 dB below the speech level (room noise, breath) are 0;
// from 8 dB below it is 1. The floor never drops below −70 dBFS, so near
// digital silence stays shut whatever the percentile says.
func loudness(env []float64) []float64 {
	g := make([]float64, len(env))
	if len(env) == 0 {
		return g
	}
	ref := percentile(env, 0.9)
	lo := max(ref-30, -70)
	hi := max(ref-8, lo+10)
	for i, db := range env {
		g[i] = smoothstep((db - lo) / (hi - lo))
	}
	return g
}

// shapeGate is how much lip shape survives at loudness g: all of it once
// a frame is a third of the way to full voice, since consonant closures
// are quiet yet shaped; none in silence.
func shapeGate(g float64) float64 { return smoothstep(3 * g) }

// gateByLoudness scales the opening by loudness and fades the lip shape to
// rest in silence. Frames past the end of env count as silent.
func gateByLoudness(out []Mouth, env []float64) {
	g := loudness(env)
	for i := range out {
		l := 0.0
		if i < len(g) {
			l = g[i]
		}
		out[i].Open *= l
		s := shapeGate(l)
		out[i].Width *= s
		out[i].Round *= s
	}
}

func smoothstep(x float64) float64 {
	x = max(0, min(1, x))
	return x * x * (3 - 2*x)
}

func percentile(v []float64, p float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1))]
}

// AcousticTimeline is a mouth for each of n video frames at fps read from
// the sound alone, for audio without phones: singing, other languages, or
// no recogniser. The opening follows loudness and, among voiced frames,
// the energy around the first formant (higher for open vowels); the width
// follows the spectral tilt, MFCC c1 (dark, low-heavy spectra come from
// rounded lips, bright ones from spread lips and sibilants); rounding is
// the pursed half of the width. Acoustics cannot tell the lips from the
// tongue, so Closed is never set. A critically damped filter, run forward
// and backward so it does not lag the sound, gives the articulators their
// inertia. It returns nil when n ≤ 0 or fps ≤ 0.
func AcousticTimeline(pcm []float32, rate int, fps float64, n int) []Mouth {
	if n <= 0 || !(fps > 0) {
		return nil
	}
	out := make([]Mouth, n)
	if rate < 1000 || len(pcm) == 0 {
		return out
	}
	env := audio.Envelope(pcm, rate, fps, n)
	g := loudness(env)
	open := make([]float64, n)
	width := make([]float64, n)
	f1, tilt := spectralShape(pcm, rate, fps, n)
	zf1, ztilt := zscore(f1, g), zscore(tilt, g)
	for i := range out {
		open[i] = g[i] * max(0, min(1, 0.7+0.3*math.Tanh(zf1[i])))
		width[i] = shapeGate(g[i]) * 0.8 * math.Tanh(-ztilt[i])
	}
	tau := 0.03 // seconds: lips and jaw settle within a few tens of ms
	smoothZeroPhase(open, fps, tau)
	smoothZeroPhase(width, fps, tau)
	for i := range out {
		out[i] = Mouth{Open: max(0, min(1, open[i])), Width: max(-1, min(1, width[i])), Round: max(0, -width[i])}
	}
	return out
}

// spectralShape gives, per frame, the log energy of the first-formant
// region of open vowels (500–1100 Hz) relative to that of closed ones
// (150–450 Hz), and MFCC c1, the spectral tilt. The window spans the whole
// frame interval so no part of the sound a frame shows is missed.
func spectralShape(pcm []float32, rate int, fps float64, n int) (f1, tilt []float64) {
	f1, tilt = make([]float64, n), make([]float64, n)
	cfg := audio.SpeechConfig(rate)
	cfg.Window = max(cfg.Window, audio.FrameSize(rate, fps))
	cfg.FFTSize = 0
	a, err := audio.NewAnalyzer(cfg)
	if err != nil {
		return f1, tilt // a rate too low for the filterbank: loudness alone
	}
	for i, lm := range a.LogMelFrames(pcm, fps, n) {
		var hi, lo float64
		var nhi, nlo int
		for m := range lm {
			switch c := a.BandCenter(m); {
			case c >= 500 && c <= 1100:
				hi += lm[m]
				nhi++
			case c >= 150 && c < 450:
				lo += lm[m]
				nlo++
			}
		}
		if nhi > 0 && nlo > 0 {
			f1[i] = hi/float64(nhi) - lo/float64(nlo)
		}
		tilt[i] = a.Cepstrum(nil, lm)[1]
	}
	return f1, tilt
}

// zscore standardises v over the frames that are mostly voiced (weight ≥
// 0.5), so that the features describe this speaker and microphone rather
// than absolute levels. Too few voiced frames give zeros.
func zscore(v, weight []float64) []float64 {
	var sum, sum2, k float64
	for i, x := range v {
		if weight[i] >= 0.5 {
			sum += x
			sum2 += x * x
			k++
		}
	}
	z := make([]float64, len(v))
	if k < 3 {
		return z
	}
	mean := sum / k
	sd := math.Sqrt(max(0, sum2/k-mean*mean))
	if sd < 1e-9 {
		return z
	}
	for i, x := range v {
		z[i] = (x - mean) / sd
	}
	return z
}

// smoothZeroPhase runs a first-order low-pass of time constant tau
// forward and then backward over v, sampled at fps: the pair is a
// critically damped second-order response without phase lag.
func smoothZeroPhase(v []float64, fps, tau float64) {
	if len(v) == 0 {
		return
	}
	a := 1 - math.Exp(-1/(fps*tau))
	y := v[0]
	for i := range v {
		y += a * (v[i] - y)
		v[i] = y
	}
	y = v[len(v)-1]
	for i := len(v) - 1; i >= 0; i-- {
		y += a * (v[i] - y)
		v[i] = y
	}
}

// FromAudio is the mouth for each of n video frames at fps (n ≤ 0: enough
// frames for the whole audio) from mono samples at rate. It uses phones
// from Recognize when pocketsphinx is installed and what it heard looks
// like speech (see looksLikeSpeech), and AcousticTimeline otherwise, and
// says which. Empty or silent audio is an error (ErrEmpty, ErrSilent).
func FromAudio(ctx context.Context, pcm []float32, rate int, fps float64, n int) ([]Mouth, Source, error) {
	if err := checkAudio(pcm, rate); err != nil {
		return nil, "", err
	}
	if !(fps > 0) || fps > 1000 {
		return nil, "", fmt.Errorf("speech: frame rate %g, want 0 < fps ≤ 1000", fps)
	}
	if n <= 0 {
		n = audio.FrameCount(len(pcm), rate, fps)
	}
	env := audio.Envelope(pcm, rate, fps, n)
	phones, err := Recognize(ctx, pcm, rate)
	switch {
	case errors.Is(err, ErrNoRecognizer) || errors.Is(err, ErrNoModel):
	case err != nil:
		return nil, "", err
	case looksLikeSpeech(phones, env, fps):
		return Timeline(phones, env, fps, n), SourcePhones, nil
	}
	return AcousticTimeline(pcm, rate, fps, n), SourceAcoustic, nil
}

// looksLikeSpeech tells whether recognised phones explain the sound: at
// least 60 % of the voiced frames fall in named phones, and those phones
// change at a speaking rate (3 to 30 per voiced second). A phone loop
// decodes anything, but a hum or a held note comes out as long stretches
// of silence or of a few drawn-out phones, and music as noise.
func looksLikeSpeech(phones []Phone, env []float64, fps float64) bool {
	g := loudness(env)
	voicedAt := func(t float64) bool {
		i := int(math.Floor(t * fps))
		return i >= 0 && i < len(g) && g[i] >= 0.5
	}
	named := func(p Phone) bool { return p.Symbol != Silence && p.Symbol != Unclear }
	voiced, covered := 0, 0
	k := 0
	for i := range g {
		t := audio.FrameTime(i, fps)
		if !voicedAt(t) {
			continue
		}
		voiced++
		for k < len(phones) && phones[k].End <= t {
			k++
		}
		if k < len(phones) && phones[k].Start <= t && named(phones[k]) {
			covered++
		}
	}
	if voiced == 0 {
		return false
	}
	count := 0 // named phones centred in voiced frames
	for _, p := range phones {
		if named(p) && voicedAt((p.Start+p.End)/2) {
			count++
		}
	}
	rate := float64(count) / (float64(voiced) / fps)
	return float64(covered) >= 0.6*float64(voiced) && rate >= 3 && rate <= 30
}
