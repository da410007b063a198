package talkgan

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/facesynth/facesynth/internal/align"
	"github.com/facesynth/facesynth/internal/analyze"
	"github.com/facesynth/facesynth/internal/audio"
	"github.com/facesynth/facesynth/internal/dataset"
	"github.com/facesynth/facesynth/internal/mark"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/progress"
	"github.com/facesynth/facesynth/internal/torch"
)

// Model is a trained generator, ready to make videos.
type Model struct {
	p    *torch.Params
	gen  *Generator
	Step int // training steps it has had
}

// Load opens a model folder (its latest checkpoint) or a weights file
// written by Train.
func Load(path string) (*Model, error) {
	if !torch.Available {
		return nil, torch.ErrUnavailable
	}
	weights, step := path, -1
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("talkgan: %w", err)
	}
	if st.IsDir() {
		s, err := ReadState(path)
		if err != nil {
			return nil, err
		}
		weights, step = filepath.Join(path, s.Weights), s.Step
	}
	p := torch.NewParams()
	g := NewGenerator(p.Sub("g"))
	if err := p.Err(); err != nil {
		p.Close()
		return nil, err
	}
	// Only the generator's part of the checkpoint is read; Params.Load
	// ignores the discriminators' entries.
	meta, err := p.Load(weights)
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("talkgan: %w", err)
	}
	if meta["format"] != stateFormat {
		p.Close()
		return nil, fmt.Errorf("talkgan: %s: not talkgan weights", weights)
	}
	if step < 0 {
		fmt.Sscan(meta["step"], &step)
	}
	p.SetTraining(false)
	return &Model{p: p, gen: g, Step: step}, nil
}

// Close frees the model.
func (m *Model) Close() {
	if m != nil && m.p != nil {
		m.p.Close()
		m.p = nil
	}
}

// Frames generates one FaceSize face per video frame at fps for the speech
// pcm (at Rate), from the aligned still face (a FaceSize multiple square,
// as align.Crop makes). Seed draws the noise.
func (m *Model) Frames(still *image.RGBA, pcm []float32, fps float64, seed uint64) ([]*image.RGBA, error) {
	planes, err := facePlanes(still)
	if err != nil {
		return nil, fmt.Errorf("talkgan: still: %w", err)
	}
	n := audio.FrameCount(len(pcm), Rate, fps)
	if n == 0 {
		return nil, errors.New("talkgan: no speech to animate")
	}
	c := &clip{fps: fps, pcm: normalise(pcm)}
	rng := rand.New(rand.NewPCG(seed, 0))
	speech := make([]float32, n*WindowSize)
	noise := make([]float32, n*NoiseDim)
	for i := 0; i < n; i++ {
		c.speechAt(speech[i*WindowSize:(i+1)*WindowSize], i, 0)
	}
	for i := range noise {
		noise[i] = float32(rng.NormFloat64())
	}
	var out []float32
	torch.NoGrad(func() {
		s := torch.NewScope()
		defer s.Close()
		f := m.gen.Forward(torch.FromFloat32(planes, 1, 3, FaceSize, FaceSize),
			torch.FromFloat32(speech, 1, int64(n), WindowSize), torch.FromFloat32(noise, 1, int64(n), NoiseDim))
		out, err = f.Float32s()
	})
	if err != nil {
		return nil, fmt.Errorf("talkgan: %w", err)
	}
	const face = 3 * FaceSize * FaceSize
	frames := make([]*image.RGBA, n)
	for i := range frames {
		frames[i] = planesImage(out[i*face : (i+1)*face])
	}
	return frames, nil
}

// Options of Run.
type Options struct {
	FPS  float64 // default 25
	Seed uint64  // noise
	CRF  int     // H.264 quality (default 18)
}

// Summary is what Run made.
type Summary struct {
	Output   string
	Frames   int
	Duration float64 // seconds of speech and video
	Seconds  float64 // wall time of generation, compositing and encoding
	Payload  mark.Payload
}

// Speed is seconds of video made per second of work.
func (s Summary) Speed() float64 { return s.Duration / s.Seconds }

func (s Summary) String() string {
	return fmt.Sprintf("%d frames (%.2f s), %.1fx real time, label %s", s.Frames, s.Duration, s.Speed(), s.Payload)
}

// ErrNoFace is the error of Run for a photo without a face.
var ErrNoFace = errors.New("talkgan: no face found in the photo")

// Run makes the face in photo speak the audio file speech with the model:
// the generator draws the aligned face for every frame, which is pasted
// back into the photo over the face's hull, labelled and encoded with the
// speech as its soundtrack. The output appears only when complete.
func (m *Model) Run(ctx context.Context, photo, speech, output string, o Options, rep progress.Reporter) (*Summary, error) {
	if o.FPS == 0 {
		o.FPS = 25
	}
	if !(o.FPS >= 1 && o.FPS <= 120) {
		return nil, fmt.Errorf("talkgan: frame rate %v, want 1..120", o.FPS)
	}
	rep = progress.Of(rep)
	img, err := media.LoadImage(photo)
	if err != nil {
		return nil, err
	}
	// H.264 in 4:2:0 wants even sides.
	img = &image.RGBA{Pix: img.Pix, Stride: img.Stride, Rect: image.Rect(0, 0, img.Rect.Dx()&^1, img.Rect.Dy()&^1)}
	if img.Rect.Dx() < 2 || img.Rect.Dy() < 2 {
		return nil, fmt.Errorf("talkgan: %s: photo too small", photo)
	}
	an, err := analyze.Default()
	if err != nil {
		return nil, err
	}
	faces := an.Faces(img)
	if len(faces) == 0 {
		return nil, fmt.Errorf("%w (%s)", ErrNoFace, photo)
	}
	best := faces[0]
	for _, f := range faces[1:] {
		if f.Box.Width() > best.Box.Width() {
			best = f
		}
	}
	pcm, err := media.ReadAudio(ctx, speech, Rate)
	if err != nil {
		return nil, err
	}
	if audio.PeakDB(pcm) < -60 {
		return nil, fmt.Errorf("talkgan: %s: the speech is silent", speech)
	}
	start := time.Now()
	toCrop := align.ToCrop(best.Landmarks, dataset.FaceSize)
	still := align.Crop(img, toCrop, dataset.FaceSize)
	faceFrames, err := m.Frames(still, pcm, o.FPS, o.Seed)
	if err != nil {
		return nil, err
	}
	mask := align.HullMask(align.CanonicalIn(dataset.FaceSize), dataset.FaceSize, dataset.FaceSize, align.Erode(4), align.Feather(10))
	// Generator pixel x covers crop pixels kx … kx+k−1 (facePlanes
	// averages k×k boxes), so its centre is at kx + (k−1)/2.
	k := float64(dataset.FaceSize) / FaceSize
	up := align.Transform{A: k, C: (k - 1) / 2, E: k, F: (k - 1) / 2}
	payload := mark.NewPayload()
	w, err := media.CreateVideo(ctx, output, img.Rect.Dx(), img.Rect.Dy(), media.WriterOptions{
		FPS: o.FPS, CRF: o.CRF, Audio: speech, Metadata: mark.Labels(payload, "talkgan"),
	})
	if err != nil {
		return nil, err
	}
	defer w.Abort() // no-op after Close
	emb := mark.NewEmbedder(payload)
	frame := image.NewRGBA(img.Rect)
	for i, f := range faceFrames {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for y := 0; y < frame.Rect.Dy(); y++ {
			copy(frame.Pix[y*frame.Stride:(y+1)*frame.Stride], img.Pix[y*img.Stride:])
		}
		// The generator's face, scaled back to the aligned crop and
		// pasted through the crop's transform.
		crop := align.Warp(f, up, dataset.FaceSize, dataset.FaceSize)
		align.Paste(frame, crop, mask, toCrop)
		emb.Embed(frame)
		if err := w.Write(frame); err != nil {
			return nil, err
		}
		rep.Report(i+1, len(faceFrames), "")
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	rep.Done()
	return &Summary{Output: output, Frames: len(faceFrames), Duration: float64(len(pcm)) / Rate,
		Seconds: time.Since(start).Seconds(), Payload: payload}, nil
}
