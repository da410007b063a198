// Package speech turns a voice into a mouth that moves with it: phones
// recognised in audio (pocketsphinx) or synthesised from text (espeak-ng),
// then a per-video-frame mouth shape with co-articulation, or, where no
// phones can be had, a mouth driven by the sound's energy and spectrum.
//
// Both engines are Debian programs run as subprocesses; nothing here links
// C code. Recognising 11 s of speech takes under a second.
//
// A typical caller:
//
//	pcm, _ := media.ReadAudio(ctx, "voice.wav", 16000)
//	mouths, src, err := speech.FromAudio(ctx, pcm, 16000, 25, 0)
//
// or, from text:
//
//	pcm, rate, phones, err := speech.Synthesize(ctx, "Hello there.", "en-us")
//	n := audio.FrameCount(len(pcm), rate, 25)
//	mouths := speech.Timeline(phones, audio.Envelope(pcm, rate, 25, n), 25, n)
package speech

import (
	"errors"
	"fmt"
	"math"

	"github.com/facesynth/facesynth/internal/audio"
)

// Phone is one speech sound and when it is heard.
type Phone struct {
	// Symbol is an ARPAbet phone without stress digits (AA, B, CH, …, ZH),
	// SIL for silence or SPN for speech too unclear to name.
	Symbol     string
	Start, End float64 // seconds from the start of the audio
}

// Duration is End − Start in seconds.
func (p Phone) Duration() float64 { return p.End - p.Start }

// Silence, and speech too unclear to name (pocketsphinx's "spoken noise").
const (
	Silence = "SIL"
	Unclear = "SPN"
)

// Errors for input no mouth can be derived from, and for missing programs.
// Callers can test for them with errors.Is.
var (
	ErrEmpty  = errors.New("speech: audio is empty")
	ErrSilent = errors.New("speech: audio is silent")
	ErrNoText = errors.New("speech: text is empty")

	ErrNoRecognizer = errors.New("speech: pocketsphinx_continuous not found in PATH (install Debian packages pocketsphinx and pocketsphinx-en-us)")
	ErrNoModel      = errors.New("speech: pocketsphinx English model not found (install Debian package pocketsphinx-en-us, or set FACESYNTH_POCKETSPHINX_MODEL)")
	ErrNoSynth      = errors.New("speech: espeak-ng not found in PATH (install Debian package espeak-ng)")
)

// SilentDB is the peak level below which audio counts as silent: −60 dBFS
// is quieter than the hiss of any real recording, so a file this quiet is
// a muted track or an all-zero buffer, not a very quiet speaker.
const SilentDB = -60

// checkAudio gives the clear errors that bad input deserves before any
// work or subprocess sees it.
func checkAudio(pcm []float32, rate int) error {
	if len(pcm) == 0 {
		return ErrEmpty
	}
	if rate < 1000 || rate > 384000 {
		return fmt.Errorf("speech: sample rate %d Hz, want 1000..384000", rate)
	}
	for i, s := range pcm {
		if math.IsNaN(float64(s)) || math.IsInf(float64(s), 0) {
			return fmt.Errorf("speech: audio sample %d is %g", i, s)
		}
	}
	if peak := audio.PeakDB(pcm); peak < SilentDB {
		return fmt.Errorf("%w (peak %.0f dBFS, below %d)", ErrSilent, peak, SilentDB)
	}
	return nil
}

// fill makes phones a gapless cover of [0, duration]: gaps become SIL,
// overlaps are cut, adjacent silences merge and nothing extends past the
// end. Recognisers report only what they decoded, and their voice activity
// detection skips pauses altogether.
func fill(phones []Phone, duration float64) []Phone {
	const eps = 1e-6
	var out []Phone
	add := func(p Phone) {
		p.End = min(p.End, duration)
		if p.End-p.Start <= eps {
			return
		}
		if n := len(out); n > 0 && out[n-1].Symbol == Silence && p.Symbol == Silence {
			out[n-1].End = p.End
			return
		}
		out = append(out, p)
	}
	cursor := 0.0
	for _, p := range phones {
		if p.Start > cursor+eps {
			add(Phone{Silence, cursor, p.Start})
			cursor = p.Start
		}
		p.Start = cursor
		if p.End > cursor {
			add(p)
			cursor = min(p.End, duration)
		}
		if cursor >= duration {
			break
		}
	}
	if cursor < duration-eps {
		add(Phone{Silence, cursor, duration})
	}
	return out
}
