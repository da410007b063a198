package syncnet

import (
	"fmt"
	"image"
	"math"

	"github.com/facesynth/facesynth/internal/audio"
	"github.com/facesynth/facesynth/internal/dataset"
)

// The scorer's input: Frames mouth images of InWidth×InHeight grey pixels
// (the centre of dataset.MouthRect), and the 0.2 s of speech heard while
// they are shown as AudioRows MFCC rows of Coeffs values at MFCCRate.
const (
	Frames    = 5
	InWidth   = 48
	InHeight  = 32
	MFCCRate  = 100 // rows per second: 10 ms hop, 25 ms windows
	AudioRows = 20  // 0.2 s
	Coeffs    = 13
	// MaxOffset is the largest audio offset, in frames, that Score tries
	// either way (0.6 s at 25 fps).
	MaxOffset = 15
)

// jitter is how far a training crop may move off the centre of the stored
// mouth image each way (dataset.MouthRect has 4 px to spare).
const jitter = 4

// Clip is what the scorer reads of one video: a mouth image per frame
// (dataset.MouthRect-sized, nil where no face was found) and the speech.
type Clip struct {
	Name   string
	FPS    float64
	Mouths []*image.Gray
	PCM    []float32 // mono at dataset.AudioRate
}

// features is a Clip turned into numbers: the mouths as float planes and
// the speech as clip-normalised MFCC rows.
type features struct {
	fps    float64
	mouths [][]float32 // MouthRect-sized planes, 0–1; nil where no face
	mfcc   [][]float32 // rows at MFCCRate, each Coeffs long
}

func newFeatures(c *Clip) (*features, error) {
	if !(c.FPS > 0) {
		return nil, fmt.Errorf("syncnet: %s: frame rate %v", c.Name, c.FPS)
	}
	if audio.PeakDB(c.PCM) < -60 {
		return nil, fmt.Errorf("syncnet: %s: the soundtrack is silent", c.Name)
	}
	w, h := dataset.MouthRect.Dx(), dataset.MouthRect.Dy()
	f := &features{fps: c.FPS, mouths: make([][]float32, len(c.Mouths))}
	for i, m := range c.Mouths {
		if m == nil {
			continue
		}
		if m.Rect.Dx() != w || m.Rect.Dy() != h {
			return nil, fmt.Errorf("syncnet: %s: mouth %d is %v, want %dx%d", c.Name, i, m.Rect, w, h)
		}
		p := make([]float32, w*h)
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride:]
			for x := 0; x < w; x++ {
				p[y*w+x] = float32(row[x]) / 255
			}
		}
		f.mouths[i] = p
	}
	var err error
	if f.mfcc, err = mfccRows(c.PCM); err != nil {
		return nil, err
	}
	return f, nil
}

// mfccRows is the MFCC of a 25 ms window every 10 ms, row j centred at
// (j+0.5)/MFCCRate s, each coefficient normalised to zero mean and unit
// variance over the clip: the level of a recording and the colour of its
// microphone then do not matter, only how the sound changes.
func mfccRows(pcm []float32) ([][]float32, error) {
	an, err := audio.NewAnalyzer(audio.SpeechConfig(dataset.AudioRate))
	if err != nil {
		return nil, fmt.Errorf("syncnet: %w", err)
	}
	n := int(math.Ceil(float64(len(pcm)) * MFCCRate / dataset.AudioRate))
	rows := make([][]float64, n)
	var win []float32
	size := an.Config().Window
	for j := range rows {
		win = audio.Window(win, pcm, dataset.AudioRate, (float64(j)+0.5)/MFCCRate, size)
		rows[j] = an.MFCC(nil, win)
	}
	var mean, sq [Coeffs]float64
	for _, r := range rows {
		for k, v := range r {
			mean[k] += v / float64(n)
			sq[k] += v * v / float64(n)
		}
	}
	out := make([][]float32, n)
	for j, r := range rows {
		o := make([]float32, Coeffs)
		for k, v := range r {
			sd := math.Sqrt(max(sq[k]-mean[k]*mean[k], 1e-8))
			o[k] = float32((v - mean[k]) / sd)
		}
		out[j] = o
	}
	return out, nil
}

// videoOK reports whether the window of Frames frames from frame i has a
// mouth in every frame.
func (f *features) videoOK(i int) bool {
	if i < 0 || i+Frames > len(f.mouths) {
		return false
	}
	for k := i; k < i+Frames; k++ {
		if f.mouths[k] == nil {
			return false
		}
	}
	return true
}

// audioStart is the first MFCC row of the speech heard while frames i …
// i+Frames−1 are shown: AudioRows rows centred on the middle of that span.
func (f *features) audioStart(i int) int {
	centre := (float64(i) + Frames/2.0) / f.fps
	return int(math.Round(centre*MFCCRate)) - AudioRows/2
}

// audioOK reports whether the speech of the window at frame i lies inside
// the recording.
func (f *features) audioOK(i int) bool {
	r := f.audioStart(i)
	return r >= 0 && r+AudioRows <= len(f.mfcc)
}

// putVideo writes the window at frame i, cropped at (dx, dy) inside the
// stored mouth images, into dst (Frames×InHeight×InWidth), normalised to
// zero mean and unit variance over the window: lighting and skin tone
// drop out, the motion and shape of the lips stay.
func (f *features) putVideo(dst []float32, i, dx, dy int) {
	w := dataset.MouthRect.Dx()
	n := 0
	var sum, sq float64
	for k := 0; k < Frames; k++ {
		src := f.mouths[i+k]
		for y := 0; y < InHeight; y++ {
			row := src[(y+dy)*w+dx:]
			for x := 0; x < InWidth; x++ {
				v := row[x]
				dst[n] = v
				sum += float64(v)
				sq += float64(v) * float64(v)
				n++
			}
		}
	}
	mean := sum / float64(n)
	sd := math.Sqrt(max(sq/float64(n)-mean*mean, 1e-6))
	for j := range dst[:n] {
		dst[j] = float32((float64(dst[j]) - mean) / sd)
	}
}

// putAudio writes the speech of the window at frame i as Coeffs×AudioRows
// (channels × time, for a 1-D convolution over time) into dst.
func (f *features) putAudio(dst []float32, i int) {
	r0 := f.audioStart(i)
	for t := 0; t < AudioRows; t++ {
		row := f.mfcc[r0+t]
		for k := 0; k < Coeffs; k++ {
			dst[k*AudioRows+t] = row[k]
		}
	}
}

const (
	videoLen = Frames * InHeight * InWidth
	audioLen = Coeffs * AudioRows
)
