package speech

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/facesynth/facesynth/internal/audio"
)

const synthesizer = "espeak-ng"

// DefaultVoice is the espeak-ng voice Synthesize uses when given none.
const DefaultVoice = "en-us"

// voiceName accepts espeak-ng voice names ("en-us", "de", "mb/mb-en1",
// "en+f3"): nothing that could be read as an option, and no dots, so no
// path out of espeak-ng's voice directory.
var voiceName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_+/-]*$`)

// Synthesize speaks text with espeak-ng in voice (DefaultVoice if ""), and
// returns the audio (mono, at espeak-ng's rate, 22050 Hz) with its phones.
//
// Timing: espeak-ng 1.51 prints phonemes (--ipa) but their times only in
// MBROLA .pho output, which needs an MBROLA voice that Debian does not
// install by default. So the phonemes it prints are force-aligned to the
// audio it made: pocketsphinx decodes the audio with a grammar that allows
// exactly that phone sequence (with optional silence between words), which
// gives each phone the 10 ms frames where its sound is. Without
// pocketsphinx, or if the alignment does not reach the end, the phones are
// spread over the voiced stretches of the audio instead, vowels twice as
// long as consonants: rougher, but still in time with the sound.
func Synthesize(ctx context.Context, text, voice string) (pcm []float32, rate int, phones []Phone, err error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, 0, nil, ErrNoText
	}
	if voice == "" {
		voice = DefaultVoice
	}
	if !voiceName.MatchString(voice) {
		return nil, 0, nil, fmt.Errorf("speech: voice name %q is not an espeak-ng voice", voice)
	}
	bin, err := exec.LookPath(synthesizer)
	if err != nil {
		return nil, 0, nil, ErrNoSynth
	}
	dir, err := os.MkdirTemp("", "facesynth-speech-")
	if err != nil {
		return nil, 0, nil, fmt.Errorf("speech: %w", err)
	}
	defer os.RemoveAll(dir)

	phonFile := filepath.Join(dir, "phonemes.txt")
	// One run gives both: the WAV on stdout and the phonemes it spoke in
	// phonFile. Text goes through stdin so that no text is read as an option.
	wav, err := runTool(ctx, bin, []byte(text),
		"-v", voice, "-b", "1", "--stdin", "--stdout",
		"--ipa", "--sep= ", "--phonout="+phonFile)
	if err != nil {
		if ctx.Err() != nil {
			return nil, 0, nil, fmt.Errorf("speech: %s: %w", synthesizer, ctx.Err())
		}
		return nil, 0, nil, fmt.Errorf("speech: %s failed (voice %q): %w", synthesizer, voice, err)
	}
	pcm, rate, err = audio.DecodeWAV(wav)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("speech: %s output: %w", synthesizer, err)
	}
	ipa, err := os.ReadFile(phonFile)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("speech: %s wrote no phonemes: %w", synthesizer, err)
	}
	words := ipaToARPAbet(string(ipa))
	if len(words) == 0 || audio.PeakDB(pcm) < SilentDB {
		return nil, 0, nil, fmt.Errorf("speech: %s said nothing for %q (voice %q)", synthesizer, text, voice)
	}
	duration := float64(len(pcm)) / float64(rate)
	phones, err = align(ctx, dir, pcm, rate, words)
	if err != nil {
		return nil, 0, nil, err
	}
	if phones == nil {
		phones = spread(slices.Concat(words...), pcm, rate)
	}
	return pcm, rate, fill(phones, duration), nil
}

// align force-aligns words, each a list of ARPAbet phones, to pcm with
// pocketsphinx: each phone becomes a "word" of the same name, and a JSGF
// grammar allows only their sequence, with optional silence between words.
// It returns nil, nil when pocketsphinx is missing or the alignment fails
// to cover every phone, so the caller can fall back.
func align(ctx context.Context, dir string, pcm []float32, rate int, words [][]string) ([]Phone, error) {
	bin, err := exec.LookPath(recognizer)
	if err != nil {
		return nil, nil
	}
	m, err := findModel()
	if err != nil {
		return nil, nil
	}
	wav, err := writeRecognizerWAV(dir, pcm, rate)
	if err != nil {
		return nil, err
	}
	var dict, gram strings.Builder
	// pocketsphinx would insert silence between phones by itself, but
	// rarely (-silprob): offering it at word boundaries keeps a pause at a
	// full stop from being absorbed into the vowel before it.
	dict.WriteString("sil SIL\n")
	seen := map[string]bool{}
	gram.WriteString("#JSGF V1.0;\ngrammar phones;\npublic <utterance> = [sil]")
	var want []string
	for _, w := range words {
		for _, s := range w {
			name := strings.ToLower(s)
			gram.WriteString(" " + name)
			if !seen[name] {
				seen[name] = true
				fmt.Fprintf(&dict, "%s %s\n", name, s)
			}
			want = append(want, s)
		}
		gram.WriteString(" [sil]")
	}
	gram.WriteString(";\n")
	dictFile, gramFile := filepath.Join(dir, "phones.dict"), filepath.Join(dir, "phones.jsgf")
	if err := os.WriteFile(dictFile, []byte(dict.String()), 0o600); err != nil {
		return nil, fmt.Errorf("speech: %w", err)
	}
	if err := os.WriteFile(gramFile, []byte(gram.String()), 0o600); err != nil {
		return nil, fmt.Errorf("speech: %w", err)
	}
	out, err := runRecognizer(ctx, bin, dir,
		"-hmm", m.hmm, "-dict", dictFile, "-jsgf", gramFile,
		// One utterance: voice activity detection would cut the audio at
		// pauses and apply the whole grammar to each piece.
		"-remove_silence", "no",
		// Beams far wider than for recognition: the grammar leaves few
		// paths, and with the defaults the right one is pruned somewhere
		// in half a minute of speech and the search never reaches the end.
		"-beam", "1e-80", "-pbeam", "1e-80", "-wbeam", "1e-60",
		"-infile", wav)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, nil
	}
	// pocketsphinx prints what it has even when the search did not end in
	// the grammar's final state; only the whole sequence is an alignment.
	aligned := parsePhones(out)
	var got []string
	for _, p := range aligned {
		if p.Symbol != Silence && p.Symbol != Unclear {
			got = append(got, p.Symbol)
		}
	}
	if !slices.Equal(got, want) {
		return nil, nil
	}
	return aligned, nil
}

// spread lays symbols over the voiced 10 ms frames of pcm in order, a vowel
// taking twice a consonant's share. A phone whose share straddles a pause
// keeps the side with more of it, so no phone spans a pause; the gaps
// become silence when the caller fills them.
func spread(symbols []string, pcm []float32, rate int) []Phone {
	const fps = 100
	const pause = 0.02 // seconds of unvoiced frames that separate runs: a stop closure will do
	n := audio.FrameCount(len(pcm), rate, fps)
	g := loudness(audio.Envelope(pcm, rate, fps, n))
	var voiced []float64 // start times of voiced frames
	var run []int        // which voiced run each belongs to
	for i, l := range g {
		if l <= 0.05 {
			continue
		}
		t := float64(i) / fps
		r := 0
		if k := len(voiced); k > 0 {
			r = run[k-1]
			if t-voiced[k-1] > pause+0.5/fps {
				r++
			}
		}
		voiced = append(voiced, t)
		run = append(run, r)
	}
	if len(voiced) == 0 {
		return nil
	}
	weights := make([]float64, len(symbols))
	var total float64
	for i, s := range symbols {
		weights[i] = 1
		if isVowel(s) {
			weights[i] = 2
		}
		total += weights[i]
	}
	last := float64(len(voiced))
	// Voiced time v, in frames, maps back to the clock through the voiced
	// frame list: a start to within its frame, an end to the end of the
	// frame before, so that an end at a run's end stays before the pause.
	clock := func(v float64, end bool) float64 {
		v = max(0, min(last, v))
		j := int(v)
		if end {
			j = int(math.Ceil(v)) - 1
		}
		j = max(0, min(len(voiced)-1, j))
		return voiced[j] + (v-float64(j))/fps
	}
	phones := make([]Phone, len(symbols))
	var cum float64
	scale := last / total
	for i, s := range symbols {
		a, b := cum*scale, (cum+weights[i])*scale
		cum += weights[i]
		ja, jb := min(int(a), len(voiced)-1), max(0, min(int(math.Ceil(b))-1, len(voiced)-1))
		if run[ja] != run[jb] {
			k := ja + 1 // first frame of the next run
			for run[k] == run[ja] {
				k++
			}
			if float64(k)-a >= b-float64(k) {
				b = float64(k)
			} else {
				a = float64(k)
			}
		}
		phones[i] = Phone{Symbol: s, Start: clock(a, false), End: clock(b, true)}
	}
	return phones
}

func isVowel(s string) bool {
	switch s {
	case "AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW":
		return true
	}
	return false
}

// ipaPhones maps espeak-ng's IPA (any language) to the nearest ARPAbet
// phones of the English acoustic model, longest match first. Sounds
// English lacks go to the phone with the nearest mouth and sound: French
// /y/ is a rounded /i/ (UW for the lips), German /x/ a back /h/.
var ipaPhones = map[string][]string{
	// diphthongs and affricates
	"aɪ": {"AY"}, "aʊ": {"AW"}, "eɪ": {"EY"}, "oʊ": {"OW"}, "əʊ": {"OW"}, "ɔɪ": {"OY"},
	"ɪə": {"IH", "AH"}, "eə": {"EH", "AH"}, "ɛə": {"EH", "AH"}, "ʊə": {"UH", "AH"},
	"tʃ": {"CH"}, "dʒ": {"JH"}, "ts": {"T", "S"}, "dz": {"D", "Z"},
	// vowels
	"i": {"IY"}, "ɪ": {"IH"}, "ᵻ": {"IH"}, "ɨ": {"IH"}, "e": {"EY"}, "ɛ": {"EH"}, "æ": {"AE"},
	"a": {"AA"}, "ɑ": {"AA"}, "ɐ": {"AH"}, "ə": {"AH"}, "ʌ": {"AH"}, "ɤ": {"AH"}, "ɘ": {"AH"},
	"ɒ": {"AO"}, "ɔ": {"AO"}, "œ": {"AO"}, "ɶ": {"AO"}, "o": {"OW"},
	"ʊ": {"UH"}, "ø": {"UH"}, "ɵ": {"UH"}, "ɯ": {"UH"}, "u": {"UW"}, "y": {"UW"}, "ʉ": {"UW"},
	"ɜ": {"ER"}, "ɞ": {"ER"}, "ɚ": {"ER"}, "ɝ": {"ER"},
	// consonants
	"p": {"P"}, "b": {"B"}, "m": {"M"}, "ɱ": {"M"},
	"f": {"F"}, "v": {"V"}, "ɸ": {"F"}, "β": {"V"}, "ʋ": {"V"},
	"θ": {"TH"}, "ð": {"DH"},
	"t": {"T"}, "d": {"D"}, "n": {"N"}, "ɾ": {"D"}, "ʈ": {"T"}, "ɖ": {"D"}, "ɳ": {"N"}, "ɲ": {"N"},
	"s": {"S"}, "z": {"Z"}, "ʃ": {"SH"}, "ʒ": {"ZH"}, "ʂ": {"SH"}, "ʐ": {"ZH"}, "ɕ": {"SH"}, "ʑ": {"ZH"},
	"k": {"K"}, "g": {"G"}, "ɡ": {"G"}, "c": {"K"}, "ɟ": {"G"}, "q": {"K"}, "ɣ": {"G"}, "ŋ": {"NG"},
	"h": {"HH"}, "ɦ": {"HH"}, "x": {"HH"}, "χ": {"HH"}, "ç": {"HH"}, "ħ": {"HH"},
	"l": {"L"}, "ɫ": {"L"}, "ʎ": {"L"}, "ɭ": {"L"}, "ɬ": {"L"},
	"r": {"R"}, "ɹ": {"R"}, "ɻ": {"R"}, "ʁ": {"R"}, "ʀ": {"R"},
	"j": {"Y"}, "w": {"W"}, "ʍ": {"W"}, "ɥ": {"W"},
}

// langSwitch is espeak-ng's marker for a word read in another language,
// e.g. "(en)" inside German text.
var langSwitch = regexp.MustCompile(`\([a-z-]+\)`)

// ipaToARPAbet turns espeak-ng --ipa output into words of ARPAbet symbols. Stress,
// length and other modifier letters and combining marks (nasal vowels,
// syllabic consonants) do not change which phone it is and are dropped;
// symbols with no mapping (clicks, tones, the glottal stop) are skipped.
func ipaToARPAbet(ipa string) [][]string {
	var out [][]string
	ipa = langSwitch.ReplaceAllString(ipa, " ")
	// --sep=' ' puts one space between phonemes and two between words.
	for _, word := range strings.Split(strings.ReplaceAll(ipa, "\n", "  "), "  ") {
		var w []string
		for _, tok := range strings.Fields(word) {
			w = appendIPA(w, tok)
		}
		if len(w) > 0 {
			out = append(out, w)
		}
	}
	return out
}

// appendIPA appends the ARPAbet phones of one espeak-ng phoneme (or run
// of them) to w.
func appendIPA(w []string, tok string) []string {
	var rs []rune
	for _, r := range tok {
		if unicode.Is(unicode.Lm, r) || unicode.Is(unicode.Mn, r) || unicode.IsPunct(r) || unicode.IsSymbol(r) {
			continue
		}
		rs = append(rs, r)
	}
	for i := 0; i < len(rs); {
		n := 0
		for l := min(3, len(rs)-i); l >= 1; l-- {
			if ph, ok := ipaPhones[string(rs[i:i+l])]; ok {
				w = append(w, ph...)
				n = l
				break
			}
		}
		i += max(n, 1) // an unknown symbol is skipped
	}
	return w
}
