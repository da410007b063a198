package speech

import (
	"math"
	"os"
	"os/exec"
	"testing"

	"github.com/facesynth/facesynth/internal/audio"
	"github.com/facesynth/facesynth/internal/testmedia"
)

// jfk is the 11 s speech sample at 16 kHz: "And so my fellow Americans,
// ask not what your country can do for you, ask what you can do for your
// country."
func jfk(t testing.TB) ([]float32, int) {
	t.Helper()
	b, err := os.ReadFile(testmedia.Path(t, "jfk.wav"))
	if err != nil {
		t.Fatal(err)
	}
	pcm, rate, err := audio.DecodeWAV(b)
	if err != nil {
		t.Fatal(err)
	}
	return pcm, rate
}

// needTool skips a test when a Debian program it exercises is not
// installed; everything else about the test must still hold.
func needTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed: %v", name, err)
	}
}

func opens(m []Mouth) []float64 {
	v := make([]float64, len(m))
	for i := range m {
		v[i] = m[i].Open
	}
	return v
}

// floorDB clamps an envelope at -60 dB: below that is digital silence,
// whose −120 dB would dominate a correlation for no reason.
func floorDB(env []float64) []float64 {
	v := make([]float64, len(env))
	for i, e := range env {
		v[i] = max(e, -60)
	}
	return v
}

// symbolAt is the phone symbol at time t ("" outside all phones).
func symbolAt(phones []Phone, t float64) string {
	for _, p := range phones {
		if p.Start <= t && t < p.End {
			return p.Symbol
		}
	}
	return ""
}

// checkCover fails unless phones cover [0, duration] without gaps or overlaps.
func checkCover(t *testing.T, phones []Phone, duration float64) {
	t.Helper()
	if len(phones) == 0 {
		t.Fatal("no phones")
	}
	if phones[0].Start != 0 {
		t.Errorf("first phone starts at %.3f s, want 0", phones[0].Start)
	}
	for i := 1; i < len(phones); i++ {
		if math.Abs(phones[i].Start-phones[i-1].End) > 1e-9 {
			t.Errorf("phone %d %v starts at %.3f, previous ends at %.3f", i, phones[i], phones[i].Start, phones[i-1].End)
		}
		if phones[i].Duration() <= 0 {
			t.Errorf("phone %d %v has no duration", i, phones[i])
		}
	}
	if end := phones[len(phones)-1].End; math.Abs(end-duration) > 1e-6 {
		t.Errorf("last phone ends at %.3f s, audio lasts %.3f", end, duration)
	}
	var sum float64
	for _, p := range phones {
		sum += p.Duration()
		if _, ok := visemes[p.Symbol]; !ok && diphthongs[p.Symbol] == [2]string{} {
			t.Errorf("phone %v: symbol not in the viseme table", p)
		}
	}
	if math.Abs(sum-duration) > 1e-6 {
		t.Errorf("durations sum to %.3f s, audio lasts %.3f", sum, duration)
	}
}

func hasTool(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}
