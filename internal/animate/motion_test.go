package animate

import (
	"context"
	"github.com/facesynth/facesynth/internal/stats"
	"math"
	"testing"

	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/testmedia"
)

// blinkEvents splits a blink curve into blinks: runs of frames above 0.
// It returns each run's length in seconds and its peak.
func blinkEvents(curve []float64, fps float64) (durations, peaks []float64) {
	for i := 0; i < len(curve); {
		if curve[i] <= 0 {
			i++
			continue
		}
		j, peak := i, 0.0
		for ; j < len(curve) && curve[j] > 0; j++ {
			peak = math.Max(peak, curve[j])
		}
		durations = append(durations, float64(j-i)/fps)
		peaks = append(peaks, peak)
		i = j
	}
	return durations, peaks
}

// Over a minute the blinks come at the rate of real speakers and last as
// long as real blinks, each closing the eyes fully.
func TestBlinksStatistics(t *testing.T) {
	for _, fps := range []float64{25, 30, 24} {
		for seed := uint64(1); seed <= 6; seed++ {
			n := int(60 * fps)
			curve := Blinks(seed, n, fps)
			if len(curve) != n {
				t.Fatalf("%d values for %d frames", len(curve), n)
			}
			durs, peaks := blinkEvents(curve, fps)
			rate := float64(len(durs)) / 60
			if rate < 0.2 || rate > 0.5 {
				t.Errorf("fps %g seed %d: %.2f blinks/s, want 0.2–0.5", fps, seed, rate)
			}
			for k, d := range durs {
				if d < 0.1 || d > 0.4 {
					t.Errorf("fps %g seed %d: blink %d lasts %.3f s, want 0.1–0.4", fps, seed, k, d)
				}
				if peaks[k] < 0.999 {
					t.Errorf("fps %g seed %d: blink %d only reaches %.2f", fps, seed, k, peaks[k])
				}
			}
			for i, v := range curve {
				if v < 0 || v > 1 {
					t.Fatalf("value %g at frame %d", v, i)
				}
			}
			if fps == 25 && seed == 1 {
				mean := 0.0
				for _, d := range durs {
					mean += d / float64(len(durs))
				}
				t.Logf("seed 1 at 25 fps: %d blinks in 60 s (%.2f/s), mean duration %.3f s", len(durs), rate, mean)
			}
		}
	}
	a, b, c := Blinks(7, 500, 25), Blinks(7, 500, 25), Blinks(8, 500, 25)
	same, other := true, false
	for i := range a {
		same = same && a[i] == b[i]
		other = other || a[i] != c[i]
	}
	if !same || !other {
		t.Errorf("same seed gives the same curve: %v; another seed another: %v", same, other)
	}
	if Blinks(1, 0, 25) != nil || len(Blinks(1, 10, 0)) != 10 || maxOf(Blinks(1, 1000, math.NaN())) != 0 {
		t.Error("no frames or no frame rate should give no blinks")
	}
}

func maxOf(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}

func stddev(v []float64) float64 {
	var s, s2 float64
	for _, x := range v {
		s += x
		s2 += x * x
	}
	n := float64(len(v))
	return math.Sqrt(math.Max(0, s2/n-(s/n)*(s/n)))
}

func jfkEnergy(t *testing.T, fps float64) []float64 {
	t.Helper()
	pcm, err := media.ReadAudio(context.Background(), testmedia.Path(t, "jfk.wav"), 16000)
	if err != nil {
		t.Fatal(err)
	}
	e := FrameEnergy(pcm, 16000, fps)
	if want := int(math.Ceil(float64(len(pcm)) / 16000 * fps)); len(e) != want {
		t.Fatalf("%d energy frames, want %d", len(e), want)
	}
	return e
}

// Head motion on JFK's speech: small, smooth, livelier while he speaks,
// and brows that rise with his stressed syllables.
func TestHeadMotion(t *testing.T) {
	const fps = 25
	energy := jfkEnergy(t, fps)
	yaw, pitch, roll, brow := HeadMotion(3, energy, fps)
	for _, s := range []struct {
		name  string
		v     []float64
		limit float64
	}{{"yaw", yaw, 0.12}, {"pitch", pitch, 0.1}, {"roll", roll, 0.06}} {
		if len(s.v) != len(energy) {
			t.Fatalf("%s: %d values for %d frames", s.name, len(s.v), len(energy))
		}
		for i, x := range s.v {
			if math.Abs(x) > s.limit {
				t.Errorf("%s %.3f rad at frame %d, want within ±%.2f", s.name, x, i, s.limit)
				break
			}
			// Smooth: at most 0.3 rad/s (17°/s), with no kinks (white
			// noise of this size would jump 0.05 rad a frame).
			if i > 0 && math.Abs(x-s.v[i-1]) > 0.012 {
				t.Errorf("%s jumps %.4f rad between frames %d and %d", s.name, x-s.v[i-1], i-1, i)
				break
			}
			if i > 1 && math.Abs(x-2*s.v[i-1]+s.v[i-2]) > 0.008 {
				t.Errorf("%s kinks by %.4f rad at frame %d", s.name, x-2*s.v[i-1]+s.v[i-2], i-1)
				break
			}
		}
		if sd := stddev(s.v); sd < s.limit/20 {
			t.Errorf("%s hardly moves: sd %.4f rad", s.name, sd)
		}
	}
	// Brows: within 0..1, up on emphasis, so they follow the speech's
	// rises in loudness.
	e := normalise(energy)
	fast, slow := lowpass(e, 1.0/fps, 0.06), lowpass(e, 1.0/fps, 1.0)
	var rise []float64
	for i := range e {
		rise = append(rise, fast[i]-slow[i])
	}
	if r := stats.Pearson(brow, rise); r < 0.4 {
		t.Errorf("brow raise correlates %.2f with rises in loudness, want > 0.4", r)
	} else {
		t.Logf("brow raise vs loudness rises: r = %.2f; brow peak %.2f, sd yaw %.3f pitch %.3f roll %.3f rad",
			r, maxOf(brow), stddev(yaw), stddev(pitch), stddev(roll))
	}
	for i, b := range brow {
		if b < 0 || b > 1 {
			t.Fatalf("brow %g at frame %d", b, i)
		}
	}
	if maxOf(brow) < 0.3 {
		t.Errorf("brows barely rise: peak %.2f", maxOf(brow))
	}
	// Silence: no brow raises, and a calmer head.
	quiet := make([]float64, len(energy))
	qy, _, _, qb := HeadMotion(3, quiet, fps)
	if maxOf(qb) != 0 {
		t.Errorf("brows rise in silence: %.3f", maxOf(qb))
	}
	if stddev(qy) >= stddev(yaw) {
		t.Errorf("the head sways as much in silence (sd %.4f) as in speech (%.4f)", stddev(qy), stddev(yaw))
	}
	y2, _, _, _ := HeadMotion(3, energy, fps)
	for i := range y2 {
		if y2[i] != yaw[i] {
			t.Fatal("the same seed gave different motion")
		}
	}
	if y, _, _, _ := HeadMotion(3, nil, fps); y != nil {
		t.Error("no frames should give no motion")
	}
	if FrameEnergy(nil, 16000, 25) != nil || FrameEnergy([]float32{1}, 0, 25) != nil {
		t.Error("FrameEnergy of nothing should be nil")
	}
}
