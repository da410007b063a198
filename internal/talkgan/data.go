package talkgan

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"path/filepath"

	"github.com/facesynth/facesynth/internal/audio"
	"github.com/facesynth/facesynth/internal/dataset"
	"github.com/facesynth/facesynth/internal/extract"
	"github.com/facesynth/facesynth/internal/media"
)

// clip is one dataset sample in memory: its faces at FaceSize as planar
// floats in [-1, 1] (nil where no face), and its speech normalised to a
// fixed loudness.
type clip struct {
	name  string
	fps   float64
	faces [][]float32 // 3×FaceSize×FaceSize, channel-major
	pcm   []float32
}

// speechRMS is the loudness every clip's speech is scaled to: the networks
// hear how the sound changes, not how loud the microphone was.
const speechRMS = 0.1

func loadClips(samples []*dataset.Sample) ([]*clip, error) {
	var out []*clip
	for _, s := range samples {
		c, err := loadClip(s)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func loadClip(s *dataset.Sample) (*clip, error) {
	al, err := extract.ReadAlignments(filepath.Join(s.Dir, s.Alignments))
	if err != nil {
		return nil, err
	}
	pcm, err := s.Audio()
	if err != nil {
		return nil, err
	}
	c := &clip{name: s.Name, fps: s.FPS, faces: make([][]float32, s.Frames), pcm: normalise(pcm)}
	for _, fr := range al.Frames {
		if fr.Index < 0 || fr.Index >= s.Frames {
			continue
		}
		for _, f := range fr.Faces {
			if f.Track != s.Track {
				continue
			}
			img, err := media.LoadImage(filepath.Join(s.Dir, f.File))
			if err != nil {
				return nil, err
			}
			if c.faces[fr.Index], err = facePlanes(img); err != nil {
				return nil, fmt.Errorf("talkgan: %s: %w", f.File, err)
			}
		}
	}
	return c, nil
}

func normalise(pcm []float32) []float32 {
	rms := audio.RMS(pcm)
	out := make([]float32, len(pcm))
	if rms == 0 {
		return out
	}
	k := float32(speechRMS / rms)
	for i, v := range pcm {
		out[i] = v * k
	}
	return out
}

// facePlanes scales an aligned face crop whose side is a multiple of
// FaceSize down to FaceSize by averaging (128 → 64 is 2×2 boxes) and
// returns it channel-major in [-1, 1].
func facePlanes(img *image.RGBA) ([]float32, error) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	if w != h || w%FaceSize != 0 {
		return nil, fmt.Errorf("face crop is %dx%d, want a square multiple of %d", w, h, FaceSize)
	}
	k := w / FaceSize
	out := make([]float32, 3*FaceSize*FaceSize)
	norm := 1 / (float32(k*k) * 127.5)
	for y := 0; y < FaceSize; y++ {
		for x := 0; x < FaceSize; x++ {
			var sum [3]int
			for dy := 0; dy < k; dy++ {
				p := img.Pix[(y*k+dy)*img.Stride+x*k*4:]
				for dx := 0; dx < k; dx++ {
					sum[0] += int(p[dx*4])
					sum[1] += int(p[dx*4+1])
					sum[2] += int(p[dx*4+2])
				}
			}
			for ch := 0; ch < 3; ch++ {
				out[ch*FaceSize*FaceSize+y*FaceSize+x] = float32(sum[ch])*norm - 1
			}
		}
	}
	return out, nil
}

// planesImage turns channel-major [-1, 1] planes back into an image.
func planesImage(p []float32) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, FaceSize, FaceSize))
	for y := 0; y < FaceSize; y++ {
		for x := 0; x < FaceSize; x++ {
			i := img.PixOffset(x, y)
			for ch := 0; ch < 3; ch++ {
				v := (p[ch*FaceSize*FaceSize+y*FaceSize+x] + 1) * 127.5
				img.Pix[i+ch] = uint8(math.Round(float64(max(0, min(255, v)))))
			}
			img.Pix[i+3] = 255
		}
	}
	return img
}

// speechAt writes the WindowSize samples centred on frame i (shifted by
// shift frames) into dst; outside the recording is silence.
func (c *clip) speechAt(dst []float32, i, shift int) {
	audio.Window(dst[:0:WindowSize], c.pcm, Rate, audio.FrameTime(i+shift, c.fps), WindowSize)
}

// starts lists the first frames of runs of n frames that all have a face.
func (c *clip) starts(n int) []int {
	var out []int
	run := 0
	for i, f := range c.faces {
		if f == nil {
			run = 0
			continue
		}
		run++
		if run >= n {
			out = append(out, i-n+1)
		}
	}
	return out
}

// batch is one training step's input, in Go memory.
type batch struct {
	n, t   int
	still  []float32 // N × 3×S×S
	real   []float32 // N × T × 3×S×S
	speech []float32 // N × T × WindowSize
	noise  []float32 // N × T × NoiseDim
	// The sync discriminator's windows: per sequence the first frame of
	// a syncFrames window inside it, and the speech of that window's
	// middle frame shifted off sync.
	syncAt  []int
	offSync []float32 // N × WindowSize
}

type position struct{ c, start int }

// sampler draws batches; a step's batch depends only on the seed and the
// step number, so a resumed run sees the batches the uninterrupted run
// would have.
type sampler struct {
	clips []*clip
	pos   []position
	t     int
	seed  uint64
}

func newSampler(clips []*clip, t int, seed uint64) (*sampler, error) {
	s := &sampler{clips: clips, t: t, seed: seed}
	for k, c := range clips {
		for _, st := range c.starts(t) {
			s.pos = append(s.pos, position{k, st})
		}
	}
	if len(s.pos) == 0 {
		return nil, fmt.Errorf("talkgan: no run of %d frames with a face in %d clips", t, len(clips))
	}
	return s, nil
}

func (s *sampler) batch(step, n int) *batch {
	rng := rand.New(rand.NewPCG(s.seed, uint64(step)))
	const face = 3 * FaceSize * FaceSize
	t := s.t
	b := &batch{n: n, t: t,
		still: make([]float32, n*face), real: make([]float32, n*t*face),
		speech: make([]float32, n*t*WindowSize), noise: make([]float32, n*t*NoiseDim),
		syncAt: make([]int, n), offSync: make([]float32, n*WindowSize)}
	for k := 0; k < n; k++ {
		p := s.pos[rng.IntN(len(s.pos))]
		c := s.clips[p.c]
		// The still is another frame of the same clip: the generator
		// must move the face it is given, not copy the target.
		var still []float32
		for still == nil {
			still = c.faces[rng.IntN(len(c.faces))]
		}
		copy(b.still[k*face:], still)
		for i := 0; i < t; i++ {
			copy(b.real[(k*t+i)*face:], c.faces[p.start+i])
			c.speechAt(b.speech[(k*t+i)*WindowSize:(k*t+i+1)*WindowSize], p.start+i, 0)
		}
		for i := range b.noise[k*t*NoiseDim : (k+1)*t*NoiseDim] {
			b.noise[k*t*NoiseDim+i] = float32(rng.NormFloat64())
		}
		b.syncAt[k] = rng.IntN(t - syncFrames + 1)
		shift := 2 + rng.IntN(9)
		if rng.IntN(2) == 0 {
			shift = -shift
		}
		c.speechAt(b.offSync[k*WindowSize:(k+1)*WindowSize], p.start+b.syncAt[k]+syncFrames/2, shift)
	}
	return b
}
