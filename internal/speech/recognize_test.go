package speech

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facesynth/facesynth/internal/audio"
)

// Recognize on jfk.wav: the phones cover the 11 s, the pauses the
// envelope shows are silence, the speech is named phones, and the /m/ of
// "my" (0.96–1.04 s by ear and by its nasal dip in the envelope) is found.
func TestRecognizeJFK(t *testing.T) {
	needTool(t, recognizer)
	pcm, rate := jfk(t)
	phones, err := Recognize(context.Background(), pcm, rate)
	if err != nil {
		t.Fatal(err)
	}
	checkCover(t, phones, 11)

	const fps = 25
	n := audio.FrameCount(len(pcm), rate, fps)
	env := audio.Envelope(pcm, rate, fps, n)
	ref := percentile(env, 0.9)
	// Pauses: runs of at least 0.3 s more than 25 dB below the speech
	// level. Shorter dips are stop closures inside words.
	quiet := make([]bool, n)
	for i := 0; i < n; {
		j := i
		for j < n && env[j] < ref-25 {
			j++
		}
		for k := i; k < j && float64(j-i) >= 0.3*fps; k++ {
			quiet[k] = true
		}
		i = max(j, i+1)
	}
	var pause, pauseSil, speech, speechNamed int
	for i, e := range env {
		s := symbolAt(phones, audio.FrameTime(i, fps))
		switch {
		case quiet[i]:
			pause++
			if s == Silence || s == Unclear {
				pauseSil++
			}
		case e > ref-10:
			speech++
			if s != Silence && s != Unclear {
				speechNamed++
			}
		}
	}
	silShare, namedShare := float64(pauseSil)/float64(pause), float64(speechNamed)/float64(speech)
	t.Logf("%d phones; pause frames labelled SIL or SPN: %d/%d (%.0f%%); loud frames with a named phone: %d/%d (%.0f%%)",
		len(phones), pauseSil, pause, 100*silShare, speechNamed, speech, 100*namedShare)
	if silShare < 0.8 {
		t.Errorf("only %.0f%% of the pause frames are SIL or SPN, want ≥ 80%%", 100*silShare)
	}
	if namedShare < 0.95 {
		t.Errorf("only %.0f%% of the loud frames have a named phone, want ≥ 95%%", 100*namedShare)
	}
	found := false
	for _, p := range phones {
		if visemes[p.Symbol].closed && p.End > 0.9 && p.Start < 1.1 {
			found = true
		}
	}
	if !found {
		t.Errorf("no bilabial between 0.9 and 1.1 s, where \"my\" starts")
	}
}

// Audio at another rate is resampled for the recogniser, and the phone
// times stay in the caller's seconds.
func TestRecognizeResamples(t *testing.T) {
	needTool(t, recognizer)
	if testing.Short() {
		t.Skip("second recognition of jfk.wav")
	}
	pcm, rate := jfk(t)
	up, err := audio.Resample(pcm[:5*rate], rate, 44100)
	if err != nil {
		t.Fatal(err)
	}
	phones, err := Recognize(context.Background(), up, 44100)
	if err != nil {
		t.Fatal(err)
	}
	checkCover(t, phones, float64(len(up))/44100)
	// The first pause (2.1–3.25 s) must still be there, in seconds.
	if s := symbolAt(phones, 2.8); s != Silence {
		t.Errorf("phone at 2.8 s is %q, want SIL (the pause after \"Americans\")", s)
	}
}

func TestBadAudio(t *testing.T) {
	ctx := context.Background()
	quiet := make([]float32, 16000) // peak 0.0007, −63 dBFS: a muted track's hiss, not quiet speech
	for i := range quiet {
		quiet[i] = 0.0007 * float32(math.Sin(float64(i)))
	}
	for _, c := range []struct {
		name string
		pcm  []float32
		rate int
		want error
		msg  string
	}{
		{"empty", nil, 16000, ErrEmpty, "speech: audio is empty"},
		{"zeros", make([]float32, 16000), 16000, ErrSilent, "speech: audio is silent"},
		{"below -60 dBFS", quiet, 16000, ErrSilent, "speech: audio is silent"},
		{"rate", []float32{0.5}, 0, nil, "speech: sample rate 0 Hz"},
		{"nan", []float32{0.5, float32(nanValue())}, 16000, nil, "speech: audio sample 1 is NaN"},
	} {
		_, err1 := Recognize(ctx, c.pcm, c.rate)
		_, _, err2 := FromAudio(ctx, c.pcm, c.rate, 25, 0)
		for _, err := range []error{err1, err2} {
			if err == nil {
				t.Errorf("%s: no error", c.name)
				continue
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Errorf("%s: %v, want %v", c.name, err, c.want)
			}
			if !strings.HasPrefix(err.Error(), c.msg) {
				t.Errorf("%s: message %q, want it to start %q", c.name, err, c.msg)
			}
		}
	}
}

func nanValue() float64 {
	var zero float64
	return zero / zero
}

// A cancelled context stops pocketsphinx and says so, and the temporary
// directory goes either way.
func TestRecognizeCancelAndCleanup(t *testing.T) {
	needTool(t, recognizer)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	pcm, rate := jfk(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Recognize(ctx, pcm, rate)
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "speech: ") {
		t.Errorf("cancelled: %v, want a speech: error wrapping context.Canceled", err)
	}
	if _, err := Recognize(context.Background(), pcm[:2*rate], rate); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(tmp, "facesynth-speech-*"))
	if len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

// Without pocketsphinx, Recognize says what to install, and FromAudio
// falls back to the acoustic timeline.
func TestWithoutRecognizer(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	pcm, rate := jfk(t)
	if _, err := Recognize(context.Background(), pcm, rate); !errors.Is(err, ErrNoRecognizer) {
		t.Fatalf("Recognize without pocketsphinx: %v, want ErrNoRecognizer", err)
	}
	m, src, err := FromAudio(context.Background(), pcm, rate, 25, 0)
	if err != nil || src != SourceAcoustic || len(m) != 275 {
		t.Fatalf("FromAudio without pocketsphinx: %d frames from %q, %v; want 275 acoustic", len(m), src, err)
	}
}

func TestMissingModel(t *testing.T) {
	needTool(t, recognizer)
	t.Setenv("FACESYNTH_POCKETSPHINX_MODEL", filepath.Join(t.TempDir(), "nothing"))
	pcm, rate := jfk(t)
	_, err := Recognize(context.Background(), pcm[:rate], rate)
	if !errors.Is(err, ErrNoModel) || !strings.Contains(err.Error(), "pocketsphinx-en-us") {
		t.Errorf("Recognize without a model: %v, want ErrNoModel naming the package", err)
	}
}

func TestParsePhones(t *testing.T) {
	out := `SIL AA M SIL
SIL 0.000 0.240 1.000000
AA 0.250 0.290 1.000000
+SPN+ 0.300 0.350 0.900000
(NULL) -0.010 -0.010 1.000000
m 0.360 0.400 1.000000
<sil> 0.410 0.500 1.000000
+NSN+ 0.510 0.600 1.000000
AH0 0.610 0.700 1.000000
`
	got := parsePhones([]byte(out))
	want := []Phone{
		{"SIL", 0, 0.25}, {"AA", 0.25, 0.3}, {"SPN", 0.3, 0.36}, {"M", 0.36, 0.41},
		{"SIL", 0.41, 0.51}, {"SIL", 0.51, 0.61}, {"AH", 0.61, 0.71},
	}
	if len(got) != len(want) {
		t.Fatalf("parsed %v, want %v", got, want)
	}
	for i := range want {
		if got[i].Symbol != want[i].Symbol || !near(got[i].Start, want[i].Start) || !near(got[i].End, want[i].End) {
			t.Errorf("phone %d: %v, want %v", i, got[i], want[i])
		}
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

func TestFill(t *testing.T) {
	got := fill([]Phone{
		{"AA", 0.1, 0.2},                     // gap before
		{"M", 0.15, 0.3},                     // overlaps AA: starts where AA ends
		{"SIL", 0.3, 0.4}, {"SIL", 0.4, 0.5}, // merge
		{"IY", 0.6, 1.5}, // past the end
	}, 1.0)
	want := []Phone{{"SIL", 0, 0.1}, {"AA", 0.1, 0.2}, {"M", 0.2, 0.3}, {"SIL", 0.3, 0.6}, {"IY", 0.6, 1.0}}
	if len(got) != len(want) {
		t.Fatalf("fill gave %v, want %v", got, want)
	}
	for i := range want {
		if got[i].Symbol != want[i].Symbol || !near(got[i].Start, want[i].Start) || !near(got[i].End, want[i].End) {
			t.Errorf("phone %d: %v, want %v", i, got[i], want[i])
		}
	}
	if got := fill(nil, 2); len(got) != 1 || got[0] != (Phone{"SIL", 0, 2}) {
		t.Errorf("fill(nil, 2) = %v, want one SIL", got)
	}
}

// TestCutAtPauses: long speech is recognised in pieces cut where it is
// quiet, so no phone is split; on jfk.wav every cut for 2 to 4 pieces lies
// in a pause (25 dB or more under the loud frames).
func TestCutAtPauses(t *testing.T) {
	pcm, rate := jfk(t)
	const fps = 100
	n := audio.FrameCount(len(pcm), rate, fps)
	env := audio.Envelope(pcm, rate, fps, n)
	ref := percentile(env, 0.9)
	for pieces := 2; pieces <= 4; pieces++ {
		cuts := cutAtPauses(pcm, rate, pieces)
		if len(cuts) != pieces+1 || cuts[0] != 0 || cuts[pieces] != len(pcm) {
			t.Fatalf("%d pieces: cuts %v", pieces, cuts)
		}
		for k := 1; k < pieces; k++ {
			if cuts[k] <= cuts[k-1] {
				t.Fatalf("%d pieces: cuts %v not increasing", pieces, cuts)
			}
			i := cuts[k] * fps / rate
			t.Logf("%d pieces: cut %d at %.2f s, %.1f dB under the loud frames", pieces, k, float64(cuts[k])/float64(rate), ref-env[i])
			if env[i] > ref-25 {
				t.Errorf("%d pieces: cut %d at %.2f s is only %.1f dB under the loud frames", pieces, k, float64(cuts[k])/float64(rate), ref-env[i])
			}
		}
	}
	if c := cutAtPauses(pcm, rate, 1); len(c) != 2 {
		t.Errorf("one piece: cuts %v", c)
	}
}
