// Package talk makes the person in one photo speak: speech (an audio file,
// or text spoken by espeak-ng) becomes a mouth shape per video frame
// (package speech), blinks and small head and brow motion are added
// (package animate), each frame is rendered by warping the photo, labelled
// (package mark) and encoded with the speech as its audio track.
//
//	photo ─ analyze ─┐
//	speech ─ mouth ──┼─ expressions ─ animate.Render ─ mark ─ media
//	       ─ energy ─┘   (blinks, head motion, emotion)
//
// Nothing is trained: it works on any photo with a face, on a CPU.
package talk

import (
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/facesynth/facesynth/internal/analyze"
	"github.com/facesynth/facesynth/internal/animate"
	"github.com/facesynth/facesynth/internal/audio"
	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/mark"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/progress"
	"github.com/facesynth/facesynth/internal/speech"
)

// Speech is what the photo says: an audio file (anything ffmpeg reads,
// including a video's soundtrack), or Text for espeak-ng to speak in
// Voice. Exactly one of Audio and Text is set.
type Speech struct {
	Audio string
	Text  string
	Voice string // espeak-ng voice for Text ("" = speech.DefaultVoice)
}

// Options control the video.
type Options struct {
	FPS     float64         // frame rate (default 25)
	Emotion animate.Emotion // held through the clip
	// Seed picks the blinks and head motion; the same seed, photo and
	// speech give the same video.
	Seed uint64
	// MaxSize bounds the output's longer side in pixels (default 1280):
	// larger photos are scaled down first, since the face is what moves
	// and a 24-megapixel video helps nobody.
	MaxSize int
	CRF     int // H.264 quality (default 18)
	// Still turns head motion, brow emphasis and glances off (mouth and
	// blinks only).
	Still bool
}

func (o *Options) defaults() error {
	if o.FPS == 0 {
		o.FPS = 25
	}
	if !(o.FPS >= 1 && o.FPS <= 120) {
		return fmt.Errorf("talk: frame rate %v, want 1..120", o.FPS)
	}
	if o.MaxSize == 0 {
		o.MaxSize = 1280
	}
	if o.MaxSize < 64 {
		return fmt.Errorf("talk: max size %d, want ≥ 64", o.MaxSize)
	}
	return nil
}

// Summary is what Run made.
type Summary struct {
	Output   string
	Frames   int
	Duration float64         // seconds of speech (and of video)
	Mouth    speech.Source   // what drove the mouth: phones, acoustic or text
	Size     image.Point     // output frame size
	Region   image.Rectangle // the part of the frame that moves; the rest is the photo
	Seconds  float64         // wall time of rendering and encoding
	Payload  mark.Payload
}

// Speed is seconds of video made per second of work.
func (s Summary) Speed() float64 { return s.Duration / s.Seconds }

func (s Summary) String() string {
	return fmt.Sprintf("%d frames (%.2f s, %dx%d), mouth from %s, %.1fx real time, label %s",
		s.Frames, s.Duration, s.Size.X, s.Size.Y, s.Mouth, s.Speed(), s.Payload)
}

// Errors a caller may want to tell apart.
var (
	ErrNoFace = errors.New("talk: no face found in the photo")
)

// Run renders photo speaking sp into output (an MP4 with the speech as its
// audio). The output appears only when complete.
func Run(ctx context.Context, photo string, sp Speech, output string, o Options, rep progress.Reporter) (*Summary, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if (sp.Audio == "") == (sp.Text == "") {
		return nil, errors.New("talk: give either an audio file or a text")
	}
	rep = progress.Of(rep)
	start := time.Now()
	tmp, err := os.MkdirTemp("", "facesynth-talk-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	// Listening to the speech (a pocketsphinx process) and finding the
	// face are independent: do them at once.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type heard struct {
		t   *soundtrack
		err error
	}
	speech := make(chan heard, 1)
	go func() {
		t, err := speak(ctx, sp, o.FPS, tmp)
		speech <- heard{t, err}
	}()
	img, err := loadPhoto(photo, o.MaxSize)
	if err != nil {
		return nil, err
	}
	f, err := mainFace(img)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, photo)
	}
	h := <-speech
	if h.err != nil {
		return nil, h.err
	}
	track := h.t
	an, err := animate.New(img, f)
	if err != nil {
		return nil, fmt.Errorf("talk: %w", err)
	}
	exprs := expressions(track, o)

	payload := mark.NewPayload()
	w, err := media.CreateVideo(ctx, output, img.Rect.Dx(), img.Rect.Dy(), media.WriterOptions{
		FPS: o.FPS, CRF: o.CRF, Audio: track.wav, Metadata: mark.Labels(payload, "talk"),
		// Most of each frame repeats the last: x264's fast presets lose
		// little here, and encoding is the largest cost after the mark.
		Preset: "veryfast",
	})
	if err != nil {
		return nil, err
	}
	defer w.Abort() // no-op after Close
	// Only the face region moves: the photo is marked once, and each
	// frame only there (mark.Still).
	still := mark.NewEmbedder(payload).NewStill(img, an.Region().Add(img.Rect.Min))
	err = render(ctx, an, exprs, payload, still, func(i int, frame *image.RGBA) error {
		rep.Report(i+1, len(exprs), "")
		return w.Write(frame)
	})
	if err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	rep.Done()
	return &Summary{
		Output: output, Frames: len(exprs), Duration: track.duration, Mouth: track.source,
		Size: img.Rect.Size(), Region: an.Region(), Seconds: time.Since(start).Seconds(), Payload: payload,
	}, nil
}

// loadPhoto reads the photo, fitted for video (media.FitVideo).
func loadPhoto(path string, maxSize int) (*image.RGBA, error) {
	img, err := media.LoadImage(path)
	if err != nil {
		return nil, err
	}
	img = media.FitVideo(img, maxSize)
	if img.Rect.Dx() < 2 || img.Rect.Dy() < 2 {
		return nil, fmt.Errorf("talk: %s: photo too small", path)
	}
	return img, nil
}

// mainFace is the photo's largest face.
func mainFace(img *image.RGBA) (face.Face, error) {
	an, err := analyze.Default()
	if err != nil {
		return face.Face{}, err
	}
	f, ok := face.Largest(an.Faces(img))
	if !ok {
		return face.Face{}, ErrNoFace
	}
	return f, nil
}

// A soundtrack is the speech as the video will hear it, cut into frames.
type soundtrack struct {
	wav      string         // the audio to mux
	duration float64        // seconds
	mouths   []speech.Mouth // one per frame
	energy   []float64      // loudness per frame
	source   speech.Source
}

// SourceText marks a mouth timed by the synthesiser's own phones.
const SourceText speech.Source = "text"

func speak(ctx context.Context, sp Speech, fps float64, tmp string) (*soundtrack, error) {
	const rate = 16000
	t := &soundtrack{wav: sp.Audio}
	var pcm []float32
	var n int
	if sp.Text != "" {
		synth, srate, phones, err := speech.Synthesize(ctx, sp.Text, sp.Voice)
		if err != nil {
			return nil, err
		}
		t.wav = filepath.Join(tmp, "speech.wav")
		if err := media.WriteWAV(t.wav, synth, srate); err != nil {
			return nil, err
		}
		n = audio.FrameCount(len(synth), srate, fps)
		t.mouths = speech.Timeline(phones, audio.Envelope(synth, srate, fps, n), fps, n)
		t.source = SourceText
		pcm, t.duration = synth, float64(len(synth))/float64(srate)
		t.energy = animate.FrameEnergy(pcm, srate, fps)
	} else {
		var err error
		if pcm, err = media.ReadAudio(ctx, sp.Audio, rate); err != nil {
			return nil, err
		}
		n = audio.FrameCount(len(pcm), rate, fps)
		if t.mouths, t.source, err = speech.FromAudio(ctx, pcm, rate, fps, n); err != nil {
			return nil, err
		}
		t.duration = float64(len(pcm)) / rate
		t.energy = animate.FrameEnergy(pcm, rate, fps)
	}
	if n == 0 {
		return nil, speech.ErrEmpty
	}
	return t, nil
}

// expressions is the face's expression for every frame.
func expressions(t *soundtrack, o Options) []animate.Expression {
	n := len(t.mouths)
	blinks := animate.Blinks(o.Seed, n, o.FPS)
	glances := animate.Glances(o.Seed, n, o.FPS)
	yaw, pitch, roll, brow := animate.HeadMotion(o.Seed, t.energy, o.FPS)
	at := func(v []float64, i int) float64 {
		if o.Still || i >= len(v) {
			return 0
		}
		return v[i]
	}
	out := make([]animate.Expression, n)
	for i, m := range t.mouths {
		out[i] = animate.Expression{
			MouthOpen: m.Open, MouthWidth: m.Width, LipRound: m.Round, LipsClosed: m.Closed,
			Blink:     blinks[i],
			BrowRaise: at(brow, i),
			Yaw:       at(yaw, i), Pitch: at(pitch, i), Roll: at(roll, i),
			Emotion: o.Emotion,
		}
		if !o.Still {
			out[i].Gaze = glances[i]
		}
	}
	return out
}

// render draws every frame on parallel workers (the animator and the
// marked still are read-only; each worker has its own watermark embedder)
// and hands them to write in order. Frame buffers circulate from the
// workers to write and back.
func render(ctx context.Context, an *animate.Animator, exprs []animate.Expression,
	payload mark.Payload, still *mark.Still, write func(int, *image.RGBA) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := max(1, min(runtime.GOMAXPROCS(0), 4))
	type job struct {
		i    int
		done chan *image.RGBA
	}
	free := make(chan *image.RGBA, 2*workers+2)
	for i := 0; i < cap(free); i++ {
		free <- image.NewRGBA(an.Bounds())
	}
	jobs := make(chan job)
	pending := make(chan job, cap(free))
	var failure error
	var failOnce sync.Once
	fail := func(err error) { failOnce.Do(func() { failure = err; cancel() }) }

	var wg sync.WaitGroup
	for k := 0; k < workers; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			emb := mark.NewEmbedder(payload)
			for {
				// A worker takes a job only once it holds a buffer, so
				// the oldest job in flight can always finish and the
				// writer, waiting on it in order, never starves.
				var buf *image.RGBA
				select {
				case buf = <-free:
				case <-ctx.Done():
					for j := range jobs {
						close(j.done)
					}
					return
				}
				j, ok := <-jobs
				if !ok {
					return
				}
				// Render redraws the whole frame from the photo, so
				// the mark the last frame got is gone before it is
				// marked again.
				if err := an.Render(buf, exprs[j.i]); err != nil {
					fail(fmt.Errorf("talk: frame %d: %w", j.i, err))
					close(j.done)
					continue
				}
				emb.EmbedFrame(buf, still)
				j.done <- buf
			}
		}()
	}
	go func() {
		defer close(pending)
		defer close(jobs)
		for i := range exprs {
			j := job{i, make(chan *image.RGBA, 1)}
			select {
			case pending <- j:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- j:
			case <-ctx.Done():
				close(j.done)
				return
			}
		}
	}()
	for j := range pending {
		buf, ok := <-j.done
		if !ok || ctx.Err() != nil {
			continue
		}
		if err := write(j.i, buf); err != nil {
			fail(err)
			continue
		}
		free <- buf
	}
	wg.Wait()
	if failure != nil {
		return failure
	}
	return ctx.Err()
}
