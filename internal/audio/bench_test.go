package audio

import "testing"

// BenchmarkMFCC is one 25 ms window at 16 kHz: FFT, filterbank, DCT.
func BenchmarkMFCC(b *testing.B) {
	a, err := NewAnalyzer(SpeechConfig(16000))
	if err != nil {
		b.Fatal(err)
	}
	win := noise(a.Config().Window, 0.1, 1)
	dst := make([]float64, a.Config().Coeffs)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dst = a.MFCC(dst, win)
	}
}

// BenchmarkMFCCFramesJFK is the per-video-frame MFCCs of the 11 s sample at
// 25 fps; realtime-x is seconds of audio analysed per second.
func BenchmarkMFCCFramesJFK(b *testing.B) {
	pcm, rate := jfk(b)
	a, err := NewAnalyzer(SpeechConfig(rate))
	if err != nil {
		b.Fatal(err)
	}
	n := FrameCount(len(pcm), rate, 25)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a.MFCCFrames(pcm, 25, n)
	}
	b.ReportMetric(float64(len(pcm))/float64(rate)*float64(b.N)/b.Elapsed().Seconds(), "realtime-x")
}

// BenchmarkResample is one second of espeak-ng output (22.05 kHz) to 16 kHz.
func BenchmarkResample(b *testing.B) {
	in := noise(22050, 0.1, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Resample(in, 22050, 16000); err != nil {
			b.Fatal(err)
		}
	}
}
