package speech

import (
	"context"
	"github.com/facesynth/facesynth/internal/stats"
	"math"
	"testing"

	"github.com/facesynth/facesynth/internal/audio"
)

// A hand-made utterance at 25 fps (40 ms frames): "ah-pa" with a /p/ of
// 30 ms, shorter than a frame and holding no frame's middle (0.50 and
// 0.54 s), then "moo".
var pamoo = []Phone{
	{"SIL", 0, 0.2}, {"AA", 0.2, 0.506}, {"P", 0.506, 0.536}, {"AA", 0.536, 0.8},
	{"M", 0.8, 0.9}, {"UW", 0.9, 1.2}, {"SIL", 1.2, 1.6},
}

func TestTimelineShapes(t *testing.T) {
	m := Timeline(pamoo, nil, 25, 40)
	if len(m) != 40 {
		t.Fatalf("%d frames, want 40", len(m))
	}
	// The /p/ is centred at 0.521 s, in frame 13; it must close the lips
	// there however short it is, with open vowels either side.
	if !m[13].Closed || m[13].Open != 0 {
		t.Errorf("frame 13 (the /p/): %+v, want Closed with Open 0", m[13])
	}
	if m[12].Closed || m[14].Closed {
		t.Errorf("frames 12, 14 next to the /p/ closed too: %+v %+v", m[12], m[14])
	}
	for _, i := range []int{9, 17} {
		if m[i].Closed || m[i].Open < 0.8 {
			t.Errorf("frame %d (ah): %+v, want open ≥ 0.8", i, m[i])
		}
	}
	// The /m/ spans 0.8–0.9 s: frames 20 and 21 have their middles in it.
	for _, i := range []int{20, 21} {
		if !m[i].Closed {
			t.Errorf("frame %d (the /m/): %+v, want Closed", i, m[i])
		}
	}
	// Co-articulation: the lips round during the m for the coming oo, and
	// more so the nearer it is; the ah before has no rounding of its own.
	if m[16].Round > 0.15 || m[20].Round < 0.3 || m[21].Round < 0.6 {
		t.Errorf("round at frames 16 (ah), 20, 21 (m) = %.2f %.2f %.2f; want ≤ 0.15, ≥ 0.3, ≥ 0.6",
			m[16].Round, m[20].Round, m[21].Round)
	}
	for _, i := range []int{25, 27} {
		if m[i].Width > -0.7 || m[i].Round < 0.8 || m[i].Open > 0.35 {
			t.Errorf("frame %d (oo): %+v, want pursed: width ≤ -0.7, round ≥ 0.8, open ≤ 0.35", i, m[i])
		}
	}
	// Rest in the silences, away from the phones' reach.
	for _, i := range []int{0, 1, 38, 39} {
		if m[i].Open > 0.05 || math.Abs(m[i].Width) > 0.05 || m[i].Round > 0.05 || m[i].Closed {
			t.Errorf("frame %d (silence): %+v, want the rest mouth", i, m[i])
		}
	}
	// Co-articulation also means no jumps from one open frame to the next.
	for i := 1; i < len(m); i++ {
		if !m[i].Closed && !m[i-1].Closed && math.Abs(m[i].Open-m[i-1].Open) > 0.5 {
			t.Errorf("frames %d→%d: open jumps %.2f → %.2f", i-1, i, m[i-1].Open, m[i].Open)
		}
	}
}

func TestTimelineEdgeCases(t *testing.T) {
	if m := Timeline(pamoo, nil, 0, 10); m != nil {
		t.Errorf("fps 0 gave %d frames, want nil", len(m))
	}
	if m := Timeline(pamoo, nil, 25, 0); m != nil {
		t.Errorf("n 0 gave %d frames, want nil", len(m))
	}
	// No phones: a mouth at rest, not a crash.
	for i, m := range Timeline(nil, nil, 25, 5) {
		if m != (Mouth{}) {
			t.Errorf("frame %d without phones: %+v, want rest", i, m)
		}
	}
	// Unsorted input is sorted.
	shuffled := []Phone{pamoo[3], pamoo[0], pamoo[6], pamoo[1], pamoo[2], pamoo[4], pamoo[5]}
	a, b := Timeline(shuffled, nil, 25, 30), Timeline(pamoo, nil, 25, 30)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("frame %d: shuffled %+v, sorted %+v", i, a[i], b[i])
		}
	}
	// An unknown symbol is unclear speech: a middling opening.
	if m := Timeline([]Phone{{"QQ", 0, 1}}, nil, 25, 25); math.Abs(m[12].Open-0.45) > 0.01 {
		t.Errorf("unknown symbol: %+v, want open 0.45 (SPN)", m[12])
	}
	// An envelope gates the opening: a silent frame is shut.
	env := make([]float64, 40)
	for i := range env {
		env[i] = -10
	}
	env[16] = audio.SilenceDB
	m := Timeline(pamoo, env, 25, 40)
	if m[16].Open > 0.01 || m[15].Open < 0.8 {
		t.Errorf("gated: frame 15 open %.2f, silent frame 16 open %.2f; want ≥ 0.8 and ≈ 0", m[15].Open, m[16].Open)
	}
}

func TestTarget(t *testing.T) {
	if m := Target("AA"); m.Open != 1 || m.Closed {
		t.Errorf("AA: %+v, want fully open", m)
	}
	if m := Target("B"); !m.Closed || m.Open != 0 {
		t.Errorf("B: %+v, want closed", m)
	}
	if m := Target("IY"); m.Width < 0.8 {
		t.Errorf("IY: %+v, want spread", m)
	}
	if m := Target("OW"); m.Round < 0.4 || m.Width > -0.3 {
		t.Errorf("OW: %+v, want it to start rounded", m)
	}
	if m := Target("??"); m != (Mouth{}) {
		t.Errorf("unknown: %+v, want rest", m)
	}
}

// The mouth opening from jfk.wav's recognised phones follows its loudness
// (the jaw opens on loud vowels and rests in pauses), and every
// recognised bilabial closes the lips.
func TestTimelineJFK(t *testing.T) {
	needTool(t, recognizer)
	pcm, rate := jfk(t)
	phones, err := Recognize(context.Background(), pcm, rate)
	if err != nil {
		t.Fatal(err)
	}
	const fps = 25
	n := audio.FrameCount(len(pcm), rate, fps)
	env := audio.Envelope(pcm, rate, fps, n)
	m := Timeline(phones, env, fps, n)
	r := stats.Pearson(opens(m), floorDB(env))
	// Without the envelope, the phones alone must already carry most of it.
	r0 := stats.Pearson(opens(Timeline(phones, nil, fps, n)), floorDB(env))
	t.Logf("Pearson r(open, envelope dB) = %.3f; from phones alone %.3f", r, r0)
	if r < 0.75 {
		t.Errorf("r(open, envelope) = %.3f, want ≥ 0.75", r)
	}
	if r0 < 0.5 {
		t.Errorf("r(open from phones alone, envelope) = %.3f, want ≥ 0.5", r0)
	}
	ref := percentile(env, 0.9)
	for i, e := range env {
		if e < ref-30 && m[i].Open > 0.02 {
			t.Errorf("frame %d at %.1f dB (speech at %.1f): open %.2f, want ≈ 0 in silence", i, e, ref, m[i].Open)
		}
	}
	closures := 0
	for _, p := range phones {
		if !visemes[p.Symbol].closed {
			continue
		}
		closures++
		mid := int((p.Start + p.End) / 2 * fps)
		if !m[mid].Closed || m[mid].Open != 0 {
			t.Errorf("%s at %.2f–%.2f s: frame %d is %+v, want Closed", p.Symbol, p.Start, p.End, mid, m[mid])
		}
	}
	if closures == 0 {
		t.Error("no bilabials recognised in jfk.wav (\"my\", \"Americans\")")
	}
	if !m[24].Closed && !m[25].Closed {
		t.Errorf("frames 24–25 (0.96–1.04 s, the m of \"my\"): %+v %+v, want one Closed", m[24], m[25])
	}
}

func TestFromAudioJFK(t *testing.T) {
	needTool(t, recognizer)
	pcm, rate := jfk(t)
	m, src, err := FromAudio(context.Background(), pcm, rate, 25, 0)
	if err != nil {
		t.Fatal(err)
	}
	if src != SourcePhones || len(m) != 275 {
		t.Fatalf("%d frames from %q, want 275 from phones", len(m), src)
	}
	// n given: exactly n frames, even past the audio.
	m, _, err = FromAudio(context.Background(), pcm, rate, 30, 400)
	if err != nil || len(m) != 400 {
		t.Fatalf("n=400 at 30 fps: %d frames, %v", len(m), err)
	}
	if m[399].Open != 0 {
		t.Errorf("frame 399 (13.3 s, after the audio): open %.2f, want 0", m[399].Open)
	}
}

// Sound that is not speech: pocketsphinx decodes something from anything,
// but a buzz, noise and a tune are not explained by speech-like phones, so
// FromAudio must use the acoustic fallback.
func TestFromAudioNonSpeech(t *testing.T) {
	needTool(t, recognizer)
	const rate = 16000
	buzz := make([]float32, 3*rate) // 150 Hz with harmonics, a held hum
	for i := range buzz {
		var v float64
		for h := 1; h <= 10; h++ {
			v += math.Sin(2*math.Pi*150*float64(h)*float64(i)/rate) / float64(h)
		}
		buzz[i] = float32(0.2 * v)
	}
	tune := make([]float32, 4*rate) // plucked notes, four a second
	notes := []float64{262, 294, 330, 349, 392, 440, 494, 523}
	for i := range tune {
		f := notes[(i/(rate/4))%len(notes)]
		since := float64(i%(rate/4)) / rate
		tune[i] = float32(0.3 * math.Sin(2*math.Pi*f*float64(i)/rate) * math.Exp(-3*since))
	}
	noise := make([]float32, 3*rate)
	for i := range noise {
		noise[i] = float32(0.1 * math.Sin(float64(i)*float64(i)*1e-3)) // a chirp that folds into noise
	}
	for name, pcm := range map[string][]float32{"buzz": buzz, "tune": tune, "noise": noise} {
		m, src, err := FromAudio(context.Background(), pcm, rate, 25, 0)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if src != SourceAcoustic {
			t.Errorf("%s: source %q, want acoustic", name, src)
		}
		if len(m) != audio.FrameCount(len(pcm), rate, 25) {
			t.Errorf("%s: %d frames", name, len(m))
		}
	}
}

// The acoustic fallback on jfk.wav: the opening follows loudness, agrees
// with the phone-based opening, and rests in the pauses.
func TestAcousticTimelineJFK(t *testing.T) {
	pcm, rate := jfk(t)
	const fps = 25
	n := audio.FrameCount(len(pcm), rate, fps)
	env := audio.Envelope(pcm, rate, fps, n)
	m := AcousticTimeline(pcm, rate, fps, n)
	if len(m) != n {
		t.Fatalf("%d frames, want %d", len(m), n)
	}
	r := stats.Pearson(opens(m), floorDB(env))
	t.Logf("acoustic: Pearson r(open, envelope dB) = %.3f", r)
	if r < 0.85 {
		t.Errorf("r(open, envelope) = %.3f, want ≥ 0.85", r)
	}
	ref := percentile(env, 0.9)
	for i, e := range env {
		// In pauses, not next to speech: the smoothing lets the jaw start
		// moving a frame before the sound, as real jaws do.
		inPause := e < ref-30 && (i == 0 || env[i-1] < ref-30) && (i == n-1 || env[i+1] < ref-30)
		if inPause && m[i].Open > 0.05 {
			t.Errorf("frame %d at %.1f dB: open %.2f, want ≈ 0 in silence", i, e, m[i].Open)
		}
		if m[i].Closed || m[i].Open < 0 || m[i].Open > 1 || m[i].Width < -1 || m[i].Width > 1 || m[i].Round < 0 || m[i].Round > 1 {
			t.Fatalf("frame %d: %+v out of range", i, m[i])
		}
	}
	if _, err := findModel(); err == nil && hasTool(recognizer) {
		phones, err := Recognize(context.Background(), pcm, rate)
		if err != nil {
			t.Fatal(err)
		}
		rp := stats.Pearson(opens(m), opens(Timeline(phones, env, fps, n)))
		t.Logf("acoustic vs phone opening: r = %.3f", rp)
		if rp < 0.7 {
			t.Errorf("r(acoustic open, phone open) = %.3f, want ≥ 0.7", rp)
		}
	}
	if AcousticTimeline(pcm, rate, 0, 10) != nil || AcousticTimeline(pcm, rate, 25, 0) != nil {
		t.Error("fps or n of 0 gave frames, want nil")
	}
}

// Vowels that differ in the lips must differ in the acoustic width: the
// spectral tilt of espeak-ng's "ee" is brighter than its "oo".
func TestAcousticWidthFollowsVowels(t *testing.T) {
	needTool(t, synthesizer)
	// Both in one clip, so that the clip's own statistics apply to both.
	pcm, rate, phones, err := Synthesize(context.Background(), "see me, we do too, see three", "en-us")
	if err != nil {
		t.Fatal(err)
	}
	n := audio.FrameCount(len(pcm), rate, 25)
	m := AcousticTimeline(pcm, rate, 25, n)
	var ee, oo []float64
	for i := range m {
		switch symbolAt(phones, audio.FrameTime(i, 25)) {
		case "IY":
			ee = append(ee, m[i].Width)
		case "UW":
			oo = append(oo, m[i].Width)
		}
	}
	if len(ee) == 0 || len(oo) == 0 {
		t.Fatalf("no IY or UW frames in %v", phones)
	}
	t.Logf("acoustic width: ee %.2f over %d frames, oo %.2f over %d", meanOf(ee), len(ee), meanOf(oo), len(oo))
	if meanOf(ee)-meanOf(oo) < 0.3 {
		t.Errorf("acoustic width of ee %.2f, of oo %.2f: want ee wider by ≥ 0.3", meanOf(ee), meanOf(oo))
	}
}

func meanOf(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}
