package animate

import (
	"math"
	"math/rand/v2"
	"sort"
)

// Blink timing of people talking: blinks come every 2–4 s on average
// (15–25 a minute in conversation) and last 0.1–0.4 s, closing fast and
// opening more slowly.
const (
	blinkMinGap   = 1.0  // s, shortest interval between blink starts
	blinkMeanGap  = 3.0  // s, mean interval: 0.33 blinks/s
	blinkDuration = 0.22 // s, typical closing + opening
	blinkSpread   = 0.05 // s, its standard deviation
	blinkShortest = 0.14 // s
	blinkLongest  = 0.34 // s
)

// Blinks returns a spontaneous blink curve for n frames at fps: per frame,
// 0 eyes open to 1 closed (Expression.Blink). Intervals between blinks are
// random (a shifted gamma distribution with the mean of real speakers) and
// each blink closes in about a third of its length, holds briefly and
// opens; its closed moment falls on a frame, so every blink is seen fully
// closed. The same seed gives the same curve. A non-positive or NaN fps
// gives no blinks.
func Blinks(seed uint64, n int, fps float64) []float64 {
	if n <= 0 {
		return nil
	}
	out := make([]float64, n)
	if !(fps > 0) || math.IsInf(fps, 0) {
		return out
	}
	rng := rand.New(rand.NewPCG(seed, 0x626c696e6b))
	// gamma(2, θ) as the sum of two exponentials.
	gap := func() float64 {
		theta := (blinkMeanGap - blinkMinGap) / 2
		return blinkMinGap + theta*(rng.ExpFloat64()+rng.ExpFloat64())
	}
	end := float64(n) / fps
	for t := 0.3 + rng.Float64()*(blinkMeanGap-0.3); t < end; t += gap() {
		dur := clamp(blinkDuration+blinkSpread*rng.NormFloat64(), blinkShortest, blinkLongest)
		closing, hold := 0.35*dur, 0.15*dur
		// Put the closed moment on the frame nearest to where it falls.
		peak := math.Round((t+closing)*fps) / fps
		start := peak - closing
		if start+dur > end {
			break // a blink cut off by the end of the clip looks like a glitch
		}
		for i := max(0, int(math.Floor(start*fps))); i < n; i++ {
			ti := float64(i)/fps - start
			if ti >= dur {
				break
			}
			var v float64
			switch {
			case ti <= 0:
				continue
			case ti < closing:
				v = smoothstep(0, closing, ti)
			case ti < closing+hold:
				v = 1
			default:
				v = 1 - smoothstep(closing+hold, dur, ti)
			}
			out[i] = math.Max(out[i], v)
		}
	}
	return out
}

// Head motion of a talking person, radians: a slow idle sway, larger
// while speaking, and a small nod with each stressed syllable.
const (
	yawSway   = 0.035
	pitchSway = 0.025
	rollSway  = 0.015
	swayTime  = 1.2  // s, time constant of the sway
	nodPitch  = 0.03 // pitch of a nod at full emphasis
	// Brow raises follow emphasis with a fast rise and a slow fall.
	browAttack  = 0.12 // s
	browRelease = 0.45 // s
)

// HeadMotion returns small natural head motion and brow raises for a clip,
// one value per frame at fps: yaw, pitch and roll in radians
// (Expression.Yaw/Pitch/Roll) and brow raise 0..1 (Expression.BrowRaise).
// energy is the loudness of the speech per frame (FrameEnergy, any scale:
// it is normalised here). The head sways slowly at random, more while the
// person speaks; stressed syllables (energy rising well above its recent
// level) raise the brows and nod the head. The same seed gives the same
// motion. Empty energy or a non-positive fps gives empty slices.
func HeadMotion(seed uint64, energy []float64, fps float64) (yaw, pitch, roll, brow []float64) {
	n := len(energy)
	if n == 0 || !(fps > 0) || math.IsInf(fps, 0) {
		return nil, nil, nil, nil
	}
	dt := 1 / fps
	e := normalise(energy)
	speaking := lowpass(e, dt, 0.5)
	fast, slow := lowpass(e, dt, 0.06), lowpass(e, dt, 1.0)
	onset := make([]float64, n)
	for i := range onset {
		onset[i] = math.Max(0, fast[i]-1.3*slow[i]-0.05)
	}
	ref := percentile(onset, 0.97)
	brow = make([]float64, n)
	level := 0.0
	for i, o := range onset {
		target := 0.0
		if ref > 0 {
			target = math.Min(1, 0.8*o/ref)
		}
		tau := browRelease
		if target > level {
			tau = browAttack
		}
		level += (target - level) * (1 - math.Exp(-dt/tau))
		brow[i] = level
	}
	rng := rand.New(rand.NewPCG(seed, 0x68656164))
	yaw = sway(rng, n, dt, yawSway)
	pitch = sway(rng, n, dt, pitchSway)
	roll = sway(rng, n, dt, rollSway)
	for i := range yaw {
		k := 0.5 + 0.5*math.Min(1, speaking[i]*2)
		yaw[i] *= k
		pitch[i] = pitch[i]*k + nodPitch*brow[i]
		roll[i] *= k
	}
	return yaw, pitch, roll, brow
}

// sway is smooth random motion with standard deviation sd: white noise
// through two first-order low-passes (so that both the position and its
// speed are continuous), rescaled from the filters' known gain.
func sway(rng *rand.Rand, n int, dt, sd float64) []float64 {
	a := math.Exp(-dt / (swayTime / 2))
	// Variance of x after two cascaded AR(1) filters with the same pole,
	// for unit input: (1+a²)/(1-a²)³ · (1-a)⁴ with the input scaled by (1-a).
	gain := math.Sqrt((1 + a*a) / math.Pow(1-a*a, 3) * math.Pow(1-a, 4))
	out := make([]float64, n)
	var x1, x2 float64
	// Start from the stationary state instead of rest, so the first
	// seconds move as much as the rest.
	for i := -int(5 * swayTime / dt); i < n; i++ {
		x1 = a*x1 + (1-a)*rng.NormFloat64()
		x2 = a*x2 + (1-a)*x1
		if i >= 0 {
			out[i] = x2 / gain * sd
		}
	}
	return out
}

// normalise scales a non-negative series so that its 95th percentile is
// 1; an all-zero (silent) series stays zero.
func normalise(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		if x > 0 && !math.IsInf(x, 0) {
			out[i] = x
		}
	}
	ref := percentile(out, 0.95)
	if ref <= 0 {
		return out
	}
	for i := range out {
		out[i] = math.Min(out[i]/ref, 1.5)
	}
	return out
}

func percentile(v []float64, q float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[int(q*float64(len(s)-1))]
}

// lowpass is a first-order low-pass with time constant tau, run forwards.
func lowpass(v []float64, dt, tau float64) []float64 {
	out := make([]float64, len(v))
	k := 1 - math.Exp(-dt/tau)
	y := 0.0
	for i, x := range v {
		y += (x - y) * k
		out[i] = y
	}
	return out
}

// FrameEnergy is the loudness of mono PCM per video frame: the RMS of
// the samples in each frame's span, n = duration·fps frames. It is the
// energy HeadMotion takes.
func FrameEnergy(pcm []float32, rate int, fps float64) []float64 {
	if rate <= 0 || !(fps > 0) || math.IsInf(fps, 0) || len(pcm) == 0 {
		return nil
	}
	n := int(math.Ceil(float64(len(pcm)) / float64(rate) * fps))
	out := make([]float64, n)
	for i := range out {
		a := int(float64(i) * float64(rate) / fps)
		b := min(int(float64(i+1)*float64(rate)/fps), len(pcm))
		if a >= b {
			continue
		}
		var s float64
		for _, x := range pcm[a:b] {
			s += float64(x) * float64(x)
		}
		out[i] = math.Sqrt(s / float64(b-a))
	}
	return out
}
