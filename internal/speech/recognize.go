package speech

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/facesynth/facesynth/internal/audio"
	"github.com/facesynth/facesynth/internal/media"
)

// The recogniser and its model. pocketsphinx runs as a program rather
// than through cgo: the project keeps cgo inside the torch engine, and at
// under a second for 11 s of speech the process start does not matter.
const (
	recognizer      = "pocketsphinx_continuous"
	defaultModelDir = "/usr/share/pocketsphinx/model/en-us" // Debian's pocketsphinx-en-us
	recognizerRate  = 16000                                 // the acoustic model's rate
	recognizerFrame = 0.01                                  // seconds per frame (-frate 100)
)

// model is the pocketsphinx acoustic model directory and phone language model.
type model struct {
	hmm, phoneLM string
}

// findModel locates the US English model: FACESYNTH_POCKETSPHINX_MODEL,
// or where Debian installs it. Checking here gives a clear error instead
// of pocketsphinx's page of log.
func findModel() (model, error) {
	dir := os.Getenv("FACESYNTH_POCKETSPHINX_MODEL")
	if dir == "" {
		dir = defaultModelDir
	}
	m := model{hmm: filepath.Join(dir, "en-us"), phoneLM: filepath.Join(dir, "en-us-phone.lm.bin")}
	for _, p := range []string{filepath.Join(m.hmm, "mdef"), m.phoneLM} {
		if _, err := os.Stat(p); err != nil {
			return model{}, fmt.Errorf("%w (no %s)", ErrNoModel, p)
		}
	}
	return m, nil
}

// phoneLoopWeight is the language-model weight of the phone loop
// (pocketsphinx -lw). Phone bigrams know little, and the default, 6.5,
// lets them overrule the sound: they swallow short consonants and, on some
// voices, decode seconds of speech as one vowel. Measured against forced
// alignments of four espeak-ng sentences, 2 gave mouth openings with
// r = 0.66 (6.5: 0.59) and found a third of the closures (6.5: a sixth).
const phoneLoopWeight = "2"

// Recognize finds the phones in mono speech at rate Hz with pocketsphinx's
// phone loop (allphone mode, context-independent phones: ten times faster
// than triphones and no worse for mouth shapes). The phones cover the whole
// audio without gaps; the pauses that pocketsphinx's voice activity
// detection skips come back as SIL. Symbols are ARPAbet as in Phone.
//
// Phone recognition without words is rough (expect a third of the phones
// to be wrong), but errors are mostly between similar sounds, and the
// timing of vowels, closures and pauses is what moves a mouth.
func Recognize(ctx context.Context, pcm []float32, rate int) ([]Phone, error) {
	if err := checkAudio(pcm, rate); err != nil {
		return nil, err
	}
	bin, err := exec.LookPath(recognizer)
	if err != nil {
		return nil, ErrNoRecognizer
	}
	m, err := findModel()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "facesynth-speech-")
	if err != nil {
		return nil, fmt.Errorf("speech: %w", err)
	}
	defer os.RemoveAll(dir)
	cuts := cutAtPauses(pcm, rate, min(runtime.NumCPU(), maxPieces, int(float64(len(pcm))/float64(rate)/minPiece)))
	pieces := make([][]Phone, len(cuts)-1)
	errs := make([]error, len(pieces))
	var wg sync.WaitGroup
	for i := range pieces {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A piece after the first starts leadIn early, and what is
			// heard there is dropped: the recogniser's cepstral mean
			// (its idea of the channel) starts from a default and needs
			// some sound to settle, which otherwise shifts the first
			// phones of every piece.
			from := max(0, cuts[i]-int(leadIn*float64(rate)))
			ps, err := recognizePiece(ctx, bin, m, filepath.Join(dir, strconv.Itoa(i)), pcm[from:cuts[i+1]], rate)
			ps = after(ps, float64(cuts[i]-from)/float64(rate))
			offset := float64(from) / float64(rate) // to the whole audio's time
			for k := range ps {
				ps[k].Start += offset
				ps[k].End += offset
			}
			pieces[i], errs[i] = ps, err
		}()
	}
	wg.Wait()
	var phones []Phone
	for i, ps := range pieces {
		if errs[i] != nil {
			return nil, errs[i]
		}
		phones = append(phones, ps...)
	}
	return fill(phones, float64(len(pcm))/float64(rate)), nil
}

// Speech longer than 2·minPiece seconds is recognised in pieces cut at
// pauses, up to one recogniser per core (and maxPieces) at once: the phone
// loop carries nothing across a pause, and on two cores 11 s of speech is
// then ready in about 0.35 s instead of 0.55, which is time a talking
// photo waits before its first frame. A piece costs about 0.1 s of model
// loading, so pieces stay long.
const (
	minPiece  = 4.0 // seconds
	maxPieces = 8
	leadIn    = 1.5 // seconds of the piece before heard first, then dropped
)

// after is the phones from t seconds on, the one across t cut there.
func after(phones []Phone, t float64) []Phone {
	var out []Phone
	for _, p := range phones {
		if p.End <= t {
			continue
		}
		p.Start = max(p.Start, t)
		out = append(out, p)
	}
	return out
}

// recognizePiece runs the recogniser on pcm in its own folder dir.
func recognizePiece(ctx context.Context, bin string, m model, dir string, pcm []float32, rate int) ([]Phone, error) {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("speech: %w", err)
	}
	wav, err := writeRecognizerWAV(dir, pcm, rate)
	if err != nil {
		return nil, err
	}
	out, err := runRecognizer(ctx, bin, dir,
		"-hmm", m.hmm,
		"-allphone", m.phoneLM, "-allphone_ci", "yes",
		"-lw", phoneLoopWeight,
		"-infile", wav)
	if err != nil {
		return nil, err
	}
	return parsePhones(out), nil
}

// cutAtPauses splits pcm into n pieces of about equal length (n ≤ 1: one),
// each cut moved to the quietest 20 ms within a quarter piece of where it
// would fall. It returns the n+1 boundaries, from 0 to len(pcm).
func cutAtPauses(pcm []float32, rate, n int) []int {
	if n <= 1 {
		return []int{0, len(pcm)}
	}
	win, hop := rate/50, rate/100
	cuts := []int{0}
	piece := len(pcm) / n
	for k := 1; k < n; k++ {
		at := k * piece
		best, bestE := at, math.Inf(1)
		for c := max(at-piece/4, cuts[len(cuts)-1]+piece/2); c+win <= min(at+piece/4, len(pcm)); c += hop {
			var e float64
			for _, v := range pcm[c : c+win] {
				e += float64(v) * float64(v)
			}
			if e < bestE {
				best, bestE = c+win/2, e
			}
		}
		cuts = append(cuts, best)
	}
	return append(cuts, len(pcm))
}

// writeRecognizerWAV writes pcm as the 16 kHz 16-bit WAV pocketsphinx
// reads, with dither: digital silence (synthesised speech has it between
// sentences) has a log energy of −∞, which no silence model fits, and the
// aligner then stretches the neighbouring vowel over the pause. The noise
// is one least significant bit, from a fixed seed so results repeat.
func writeRecognizerWAV(dir string, pcm []float32, rate int) (string, error) {
	var err error
	if rate != recognizerRate {
		if pcm, err = audio.Resample(pcm, rate, recognizerRate); err != nil {
			return "", fmt.Errorf("speech: %w", err)
		}
	} else {
		pcm = slices.Clone(pcm)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range pcm {
		pcm[i] += float32((rng.Float64() - rng.Float64()) / 32768) // triangular, ±1 LSB
	}
	wav := filepath.Join(dir, "speech.wav")
	if err := media.WriteWAV(wav, pcm, recognizerRate); err != nil {
		return "", fmt.Errorf("speech: %w", err)
	}
	return wav, nil
}

// runRecognizer runs pocketsphinx_continuous with args plus the options
// every run needs, and returns its standard output: the hypotheses and,
// with -time, one "SYMBOL start end probability" line per unit.
func runRecognizer(ctx context.Context, bin, dir string, args ...string) ([]byte, error) {
	logFile := filepath.Join(dir, "pocketsphinx.log")
	args = append(args,
		"-samprate", strconv.Itoa(recognizerRate),
		"-time", "yes",
		// The log is pages of configuration; it goes to a file and only
		// its last error line is shown when something fails.
		"-logfn", logFile)
	out, err := runTool(ctx, bin, nil, args...)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("speech: %s: %w", recognizer, ctx.Err())
		}
		log, _ := os.ReadFile(logFile)
		return nil, fmt.Errorf("speech: %s failed: %v%s", recognizer, err, detail(string(log)))
	}
	return out, nil
}

// runTool runs a program to completion with stdin (may be nil) and returns
// its standard output; a failure carries the last line of its stderr.
func runTool(ctx context.Context, bin string, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Wait must not hang on the pipes if the program is killed while a
	// child of it still holds them.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) || errors.Is(err, fs.ErrNotExist) {
			return nil, &toolError{err: err, stderr: stderr.String()}
		}
		return nil, err
	}
	return stdout.Bytes(), nil
}

// toolError is a program that failed; its message is the exit status and
// the program's last word on stderr.
type toolError struct {
	err    error
	stderr string
}

func (e *toolError) Error() string { return e.err.Error() + detail(e.stderr) }
func (e *toolError) Unwrap() error { return e.err }

// detail is the most telling line of a program's log as " (line)": the
// last ERROR line if any, else the last line; "" for an empty log.
func detail(log string) string {
	var last, lastErr string
	for _, l := range strings.Split(log, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		last = l
		if strings.Contains(l, "ERROR") {
			lastErr = l
		}
	}
	if lastErr != "" {
		last = lastErr
	}
	if len(last) > 300 {
		last = last[:300] + "…"
	}
	if last == "" {
		return ""
	}
	return " (" + last + ")"
}

// parsePhones reads the "SYMBOL start end probability" lines of
// pocketsphinx -time output; hypothesis lines (symbols only) are skipped.
// pocketsphinx prints the first and last frame of each unit, both
// inclusive, so a unit ends one frame after its printed end.
func parsePhones(out []byte) []Phone {
	var phones []Phone
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 4 {
			continue
		}
		start, err1 := strconv.ParseFloat(f[1], 64)
		end, err2 := strconv.ParseFloat(f[2], 64)
		_, err3 := strconv.ParseFloat(f[3], 64)
		// (NULL) marks an optional grammar item that was skipped.
		if err1 != nil || err2 != nil || err3 != nil || end < start || f[0] == "(NULL)" {
			continue
		}
		phones = append(phones, Phone{Symbol: normalizeSymbol(f[0]), Start: start, End: end + recognizerFrame})
	}
	return phones
}

// normalizeSymbol maps pocketsphinx's units to Phone symbols: phones to
// upper case without stress digits, its silence and non-speech noise
// fillers to SIL, and its "spoken noise" to SPN.
func normalizeSymbol(s string) string {
	s = strings.ToUpper(strings.TrimRight(s, "012"))
	switch s {
	case "SIL", "<SIL>", "<S>", "</S>", "+NSN+", "[NOISE]", "":
		return Silence
	case "+SPN+", "[SPEECH]":
		return Unclear
	}
	if strings.HasPrefix(s, "+") || strings.HasPrefix(s, "[") || strings.HasPrefix(s, "<") {
		return Silence // other fillers: breath, cough, lip smack
	}
	return s
}
