// Package audio is the signal processing that turns a soundtrack into numbers
// a face can follow: windows centred on video frames, an energy envelope in
// dB, log-mel spectra, MFCCs, resampling and WAV decoding. Samples are mono
// float32 in [-1, 1], as media.ReadAudio returns them. Everything here is
// pure Go; nothing runs a subprocess.
package audio

import (
	"errors"
	"math"
)

// SilenceDB is the level reported for digital silence. A dB scale has no
// bottom, and a finite floor keeps averages and correlations meaningful.
const SilenceDB = -120.0

// DB converts an RMS amplitude to dBFS: 0 dB is a full-scale square wave
// (RMS 1), so a full-scale sine is about -3 dB. Levels below SilenceDB, zero
// and NaN give SilenceDB.
func DB(rms float64) float64 {
	if !(rms > 0) {
		return SilenceDB
	}
	return max(SilenceDB, 20*math.Log10(rms))
}

// PeakDB is the level of the loudest sample in dBFS (SilenceDB for no
// samples or all zeros).
func PeakDB(pcm []float32) float64 {
	var peak float64
	for _, s := range pcm {
		peak = max(peak, math.Abs(float64(s)))
	}
	return DB(peak)
}

// RMS is the root mean square of the samples (0 for none).
func RMS(pcm []float32) float64 {
	if len(pcm) == 0 {
		return 0
	}
	var sum float64
	for _, s := range pcm {
		sum += float64(s) * float64(s)
	}
	return math.Sqrt(sum / float64(len(pcm)))
}

// FrameCount is how many video frames at fps it takes to show samples
// recorded at rate: the last, partial frame counts.
func FrameCount(samples, rate int, fps float64) int {
	if samples <= 0 || rate <= 0 || !(fps > 0) {
		return 0
	}
	// The epsilon keeps 11 s at 25 fps from becoming 276 frames through
	// rounding in the division.
	return int(math.Ceil(float64(samples)/float64(rate)*fps - 1e-9))
}

// FrameTime is the moment, in seconds, that video frame i stands for: the
// middle of [i/fps, (i+1)/fps), the interval during which it is on screen.
// Windows are centred here so that what a frame shows matches the sound
// heard while it is shown, not the sound half a frame earlier.
func FrameTime(i int, fps float64) float64 {
	return (float64(i) + 0.5) / fps
}

// Window copies the size samples of pcm centred on time t (seconds) into
// dst, reusing its storage, and returns it. Samples outside pcm are zero, so
// the first and last frames of a clip see silence beyond its ends.
func Window(dst, pcm []float32, rate int, t float64, size int) []float32 {
	if cap(dst) < size {
		dst = make([]float32, size)
	}
	dst = dst[:size]
	start := int(math.Round(t*float64(rate))) - size/2
	for i := range dst {
		j := start + i
		if j >= 0 && j < len(pcm) {
			dst[i] = pcm[j]
		} else {
			dst[i] = 0
		}
	}
	return dst
}

// FrameSize is the number of samples heard while one video frame is shown
// (640 at 16 kHz and 25 fps), at least 1.
func FrameSize(rate int, fps float64) int {
	return max(1, int(math.Round(float64(rate)/fps)))
}

// Envelope is the loudness of each of n video frames at fps: the RMS level
// in dBFS of the samples heard while the frame is shown (FrameSize samples
// centred on FrameTime). Frames past the end of pcm are SilenceDB.
func Envelope(pcm []float32, rate int, fps float64, n int) []float64 {
	env := make([]float64, max(n, 0))
	if rate <= 0 || !(fps > 0) {
		for i := range env {
			env[i] = SilenceDB
		}
		return env
	}
	size := FrameSize(rate, fps)
	var win []float32
	for i := range env {
		win = Window(win, pcm, rate, FrameTime(i, fps), size)
		env[i] = DB(RMS(win))
	}
	return env
}

// errRate is returned for a sample rate no audio could have.
var errRate = errors.New("audio: sample rate must be positive")
