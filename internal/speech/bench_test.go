package speech

import (
	"context"
	"testing"

	"github.com/facesynth/facesynth/internal/audio"
)

// realtime reports seconds of audio handled per second of work.
func realtime(b *testing.B, seconds float64) {
	b.ReportMetric(seconds*float64(b.N)/b.Elapsed().Seconds(), "realtime-x")
}

// BenchmarkRecognizeJFK is pocketsphinx's phone loop on the 11 s sample,
// temporary WAV and process start included.
func BenchmarkRecognizeJFK(b *testing.B) {
	needTool(b, recognizer)
	pcm, rate := jfk(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Recognize(context.Background(), pcm, rate); err != nil {
			b.Fatal(err)
		}
	}
	realtime(b, float64(len(pcm))/float64(rate))
}

// BenchmarkTimelineJFK is the viseme blending alone: 275 frames at 25 fps.
func BenchmarkTimelineJFK(b *testing.B) {
	needTool(b, recognizer)
	pcm, rate := jfk(b)
	phones, err := Recognize(context.Background(), pcm, rate)
	if err != nil {
		b.Fatal(err)
	}
	n := audio.FrameCount(len(pcm), rate, 25)
	env := audio.Envelope(pcm, rate, 25, n)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Timeline(phones, env, 25, n)
	}
	realtime(b, float64(len(pcm))/float64(rate))
}

// BenchmarkAcousticTimelineJFK is the fallback: envelope, log-mel
// spectra, MFCC tilt and smoothing for 275 frames.
func BenchmarkAcousticTimelineJFK(b *testing.B) {
	pcm, rate := jfk(b)
	n := audio.FrameCount(len(pcm), rate, 25)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		AcousticTimeline(pcm, rate, 25, n)
	}
	realtime(b, float64(len(pcm))/float64(rate))
}

// BenchmarkSynthesize is espeak-ng plus the forced alignment for a
// two-second sentence.
func BenchmarkSynthesize(b *testing.B) {
	needTool(b, synthesizer)
	needTool(b, recognizer)
	var seconds float64
	for i := 0; i < b.N; i++ {
		pcm, rate, _, err := Synthesize(context.Background(), "hello world, this is a test", "en-us")
		if err != nil {
			b.Fatal(err)
		}
		seconds = float64(len(pcm)) / float64(rate)
	}
	realtime(b, seconds)
}
