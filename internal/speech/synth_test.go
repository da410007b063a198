package speech

import (
	"context"
	"errors"
	"github.com/facesynth/facesynth/internal/stats"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/facesynth/facesynth/internal/audio"
)

// Synthesize returns audio and phones that cover it, in the order espeak-ng
// spoke them, with timing that matches the sound: vowels where the audio
// is loud, silence at the comma where it is quiet.
func TestSynthesize(t *testing.T) {
	needTool(t, synthesizer)
	needTool(t, recognizer) // the timing comes from the forced alignment
	pcm, rate, phones, err := Synthesize(context.Background(), "hello world, this is a test", "")
	if err != nil {
		t.Fatal(err)
	}
	duration := float64(len(pcm)) / float64(rate)
	if rate != 22050 || duration < 1.5 || duration > 2.5 {
		t.Fatalf("%.2f s at %d Hz, want about 2 s at 22050", duration, rate)
	}
	checkCover(t, phones, duration)
	var sum float64
	var named []string
	for _, p := range phones {
		sum += p.Duration()
		if p.Symbol != Silence {
			named = append(named, p.Symbol)
		}
	}
	if math.Abs(sum-duration) > 0.1 {
		t.Errorf("phones last %.3f s, audio %.3f", sum, duration)
	}
	want := strings.Fields("HH AH L OW W ER L D DH IH S IH Z AH T EH S T")
	if !slices.Equal(named, want) {
		t.Errorf("phones %v, want %v", named, want)
	}

	env := audio.Envelope(pcm, rate, 100, audio.FrameCount(len(pcm), rate, 100))
	level := func(p Phone) float64 { // mean level in dB over a phone
		var s float64
		var k int
		for i := int(p.Start * 100); i < int(math.Ceil(p.End*100)) && i < len(env); i++ {
			s += env[i]
			k++
		}
		return s / float64(k)
	}
	ref := percentile(env, 0.9)
	comma := false
	for i, p := range phones {
		switch {
		case isVowel(p.Symbol) && level(p) < ref-15:
			t.Errorf("vowel %v at %.1f dB, more than 15 dB under the speech level %.1f", p, level(p), ref)
		case p.Symbol == Silence && i > 0 && i < len(phones)-1:
			comma = true
			if p.Duration() < 0.08 || level(p) > ref-20 {
				t.Errorf("pause %v: %.2f s at %.1f dB, want ≥ 0.08 s and 20 dB under speech (%.1f)", p, p.Duration(), level(p), ref)
			}
		}
	}
	if !comma {
		t.Errorf("no silence between \"world\" and \"this\": %v", phones)
	}
	// And a timeline from it: the mouth opens on the vowels.
	n := audio.FrameCount(len(pcm), rate, 25)
	m := Timeline(phones, audio.Envelope(pcm, rate, 25, n), 25, n)
	r := stats.Pearson(opens(m), floorDB(audio.Envelope(pcm, rate, 25, n)))
	t.Logf("%d phones over %.2f s; r(open, envelope) = %.3f", len(phones), duration, r)
	if r < 0.6 {
		t.Errorf("r(open, envelope) = %.3f, want ≥ 0.6", r)
	}
}

// Bilabials spoken by espeak-ng must close the mouth at the right frames.
func TestSynthesizeBilabialsClose(t *testing.T) {
	needTool(t, synthesizer)
	needTool(t, recognizer)
	pcm, rate, phones, err := Synthesize(context.Background(), "My mother bought a big map.", "en-us")
	if err != nil {
		t.Fatal(err)
	}
	n := audio.FrameCount(len(pcm), rate, 25)
	m := Timeline(phones, audio.Envelope(pcm, rate, 25, n), 25, n)
	var bilabials int
	for _, p := range phones {
		if p.Symbol != "M" && p.Symbol != "B" && p.Symbol != "P" {
			continue
		}
		bilabials++
		i := int((p.Start + p.End) / 2 * 25)
		if !m[i].Closed || m[i].Open != 0 {
			t.Errorf("%v: frame %d %+v, want Closed", p, i, m[i])
		}
	}
	// my, mother, bought, big, map, map: M M B B M P.
	if bilabials != 6 {
		t.Errorf("%d bilabials in %v, want 6", bilabials, phones)
	}
}

func TestSynthesizeOtherVoice(t *testing.T) {
	needTool(t, synthesizer)
	pcm, rate, phones, err := Synthesize(context.Background(), "Guten Morgen, schöne Welt.", "de")
	if err != nil {
		t.Fatal(err)
	}
	checkCover(t, phones, float64(len(pcm))/float64(rate))
	var named []string
	for _, p := range phones {
		if p.Symbol != Silence {
			named = append(named, p.Symbol)
		}
	}
	// ɡ uː t ə n  m ɔ ɾ ɡ ə n  ʃ øː n ə  v ɛ l t
	want := strings.Fields("G UW T AH N M AO D G AH N SH UH N AH V EH L T")
	if !slices.Equal(named, want) {
		t.Errorf("German phones %v, want %v", named, want)
	}
}

// Without pocketsphinx, the phones are spread over the voiced audio: still
// a cover, in order, with vowels on loud frames.
func TestSynthesizeWithoutAligner(t *testing.T) {
	needTool(t, synthesizer)
	espeak, _ := exec.LookPath(synthesizer)
	bin := t.TempDir()
	if err := os.Symlink(espeak, filepath.Join(bin, synthesizer)); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	pcm, rate, phones, err := Synthesize(context.Background(), "hello world, this is a test", "en-us")
	if err != nil {
		t.Fatal(err)
	}
	duration := float64(len(pcm)) / float64(rate)
	checkCover(t, phones, duration)
	var named []string
	for _, p := range phones {
		if p.Symbol != Silence {
			named = append(named, p.Symbol)
		}
	}
	if want := strings.Fields("HH AH L OW W ER L D DH IH S IH Z AH T EH S T"); !slices.Equal(named, want) {
		t.Errorf("phones %v, want %v", named, want)
	}
	env := audio.Envelope(pcm, rate, 100, audio.FrameCount(len(pcm), rate, 100))
	ref := percentile(env, 0.9)
	for _, p := range phones {
		i := int((p.Start + p.End) / 2 * 100)
		if isVowel(p.Symbol) && env[i] < ref-30 {
			t.Errorf("vowel %v centred on a frame at %.1f dB (speech %.1f)", p, env[i], ref)
		}
	}
}

func TestSynthesizeErrors(t *testing.T) {
	needTool(t, synthesizer)
	ctx := context.Background()
	if _, _, _, err := Synthesize(ctx, "  \n", ""); !errors.Is(err, ErrNoText) {
		t.Errorf("blank text: %v, want ErrNoText", err)
	}
	for _, voice := range []string{"-w", "en us", "--stdout"} {
		if _, _, _, err := Synthesize(ctx, "hello", voice); err == nil || !strings.HasPrefix(err.Error(), "speech: ") {
			t.Errorf("voice %q: %v, want a speech: error", voice, err)
		}
	}
	_, _, _, err := Synthesize(ctx, "hello", "xx-nosuch")
	if err == nil || !strings.HasPrefix(err.Error(), "speech: espeak-ng failed") || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("unknown voice: %v, want espeak-ng's own reason", err)
	}
	// Text that looks like options is spoken, not obeyed.
	pcm, _, _, err := Synthesize(ctx, "--version -w /tmp/x.wav", "")
	if err != nil || len(pcm) == 0 {
		t.Errorf("option-like text: %d samples, %v; want speech", len(pcm), err)
	}
	t.Setenv("PATH", t.TempDir())
	if _, _, _, err := Synthesize(ctx, "hello", ""); !errors.Is(err, ErrNoSynth) {
		t.Errorf("without espeak-ng: %v, want ErrNoSynth", err)
	}
}

func TestIPAToARPAbet(t *testing.T) {
	for _, c := range []struct{ ipa, want string }{
		{"h ə l ˈoʊ  w ˈɜː l d\nð ɪ s  ɪ z  ɐ  t ˈɛ s t", "HH AH L OW | W ER L D | DH IH S | IH Z | AH | T EH S T"},
		{"f ˈoːɹ ɾ i  t ˈuː", "F OW R D IY | T UW"},      // en-us rhotic vowel, flap
		{"ʃ ˈøː n ə  v ˈɛ l t", "SH UH N AH | V EH L T"}, // German
		{"b ɔ̃ ʒ ˈu ʁ", "B AO ZH UW R"},                  // French nasal vowel
		{"tʃ ˈuː z  dʒ ˈʌ dʒ", "CH UW Z | JH AH JH"},     // affricates
		{"(en) h ˈɛ l oʊ (de)", "HH EH L OW"},            // language switches
		{"ʔ ǃ ˥", ""},                                    // nothing to say with the lips
		{"p ˈiː p əl", "P IY P AH L"},                    // syllabic l
		{"k ˈɪə  ˈaɪə", "K IH AH | AY AH"},               // centring diphthongs
	} {
		var words []string
		for _, w := range ipaToARPAbet(c.ipa) {
			words = append(words, strings.Join(w, " "))
		}
		if got := strings.Join(words, " | "); got != c.want {
			t.Errorf("%q → %q, want %q", c.ipa, got, c.want)
		}
	}
}

// The forced alignment itself, not the fallback, must succeed on a short
// sentence and on half a minute of speech (where pocketsphinx's default
// beams lose the path), and give each phone its own stretch of the audio.
func TestAlign(t *testing.T) {
	needTool(t, synthesizer)
	needTool(t, recognizer)
	texts := []string{"hello world, this is a test"}
	if !testing.Short() {
		texts = append(texts, strings.Repeat("The quick brown fox jumps over the lazy dog, and then it runs away into the forest where nobody can find it. ", 5))
	}
	for _, text := range texts {
		dir := t.TempDir()
		wav, err := runTool(context.Background(), synthesizer, []byte(text),
			"-v", "en-us", "--stdin", "--stdout", "--ipa", "--sep= ", "--phonout="+filepath.Join(dir, "ipa.txt"))
		if err != nil {
			t.Fatal(err)
		}
		ipa, err := os.ReadFile(filepath.Join(dir, "ipa.txt"))
		if err != nil {
			t.Fatal(err)
		}
		pcm, rate, err := audio.DecodeWAV(wav)
		if err != nil {
			t.Fatal(err)
		}
		words := ipaToARPAbet(string(ipa))
		phones, err := align(context.Background(), dir, pcm, rate, words)
		if err != nil {
			t.Fatal(err)
		}
		if phones == nil {
			t.Fatalf("%.1f s of speech: the alignment failed", float64(len(pcm))/float64(rate))
		}
		var got []string
		for _, p := range phones {
			if p.Symbol != Silence {
				got = append(got, p.Symbol)
			}
		}
		if want := slices.Concat(words...); !slices.Equal(got, want) {
			t.Errorf("aligned %v, want %v", got, want)
		}
		t.Logf("%.1f s: %d phones aligned", float64(len(pcm))/float64(rate), len(got))
	}
}
