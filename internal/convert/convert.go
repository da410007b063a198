// Package convert swaps the faces of a video with a trained model. Frames
// flow media → track (faces, landmarks) → swap (align, generate, mask,
// colour, blend, paste) → label (watermark) → media; each step is a Stage,
// so a new per-frame step is one more value in the list, and the label is
// always the last one before the encoder.
package convert

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"runtime"
	"sync"
	"time"

	"github.com/facesynth/facesynth/internal/analyze"
	"github.com/facesynth/facesynth/internal/blend"
	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/mark"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/progress"
	"github.com/facesynth/facesynth/internal/swap"
	"github.com/facesynth/facesynth/internal/track"
)

// Frame is one video frame on its way through the stages.
type Frame struct {
	Index int
	Img   *image.RGBA
	Faces []face.Face
}

// Stage is one per-frame step. Stages run in order on each frame, and
// frames in order through each stage, so a stage may keep state over time.
type Stage interface {
	Process(ctx context.Context, f *Frame) error
}

// A Batcher is a Stage that is faster on several frames at once: a
// network reads its weights once per batch instead of once per face, and
// the original DeepFakes model's two dense layers (16 M weights each) make
// that the larger part of its time. The pipeline hands it up to BatchSize
// frames, in order.
type Batcher interface {
	Stage
	BatchSize() int
	ProcessBatch(ctx context.Context, fs []*Frame) error
}

// Options control a conversion.
type Options struct {
	Direction   swap.Direction
	Mask        MaskMode
	Erode       int // px at crop size, shrinks the blend mask
	Feather     int // px at crop size, softens its edge
	Color       blend.ColorMode
	Blend       BlendMode
	CropSize    int     // working size of the aligned crop the face is blended in (default 2× the model's, at least 128)
	Smoothing   float64 // 0..1: weight of the newest frame in the running colour statistics (default 0.3; 1 = none)
	DetectEvery int     // tracker's detector period (0: the tracker's default, 10; a lost or doubtful track detects at once)
	CRF         int     // H.264 quality of the output (default 18)
	Limit       int     // convert only the first N frames (0 = all)
}

func (o *Options) defaults(modelSize int) {
	if o.CropSize == 0 {
		o.CropSize = max(2*modelSize, 128)
	}
	if o.Smoothing <= 0 || o.Smoothing > 1 {
		o.Smoothing = 0.3
	}
	if o.Erode == 0 {
		o.Erode = o.CropSize / 32
	}
	if o.Feather == 0 {
		o.Feather = o.CropSize / 16
	}
}

// Summary is what a conversion did.
type Summary struct {
	Frames  int     // frames written (all of the input's, or Limit)
	Swapped int     // faces swapped
	NoFace  int     // frames passed through because no face was found
	Seconds float64 // wall time
	FPS     float64
	Payload mark.Payload
	Output  string
}

func (s Summary) String() string {
	return fmt.Sprintf("%d frames, %d faces swapped, %d frames without a face, %.1f frames/s, label %s",
		s.Frames, s.Swapped, s.NoFace, s.FPS, s.Payload)
}

// Run converts input into output with model. The output is written to a
// temporary file and renamed into place only when every frame is done; a
// cancelled or failed run leaves nothing under the output name.
func Run(ctx context.Context, model *swap.Model, input, output string, o Options, rep progress.Reporter) (*Summary, error) {
	o.defaults(model.Size())
	rep = progress.Of(rep)
	an, err := analyze.Default()
	if err != nil {
		return nil, err
	}
	r, err := media.OpenVideo(ctx, input)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	info := r.Info()

	payload := mark.NewPayload()
	wopts := media.WriterOptions{FPS: info.FPS, CRF: o.CRF, Metadata: mark.Labels(payload, "swap")}
	if info.HasAudio {
		wopts.Audio = input
	}
	w, err := media.CreateVideo(ctx, output, info.Width, info.Height, wopts)
	if err != nil {
		return nil, err
	}
	defer w.Abort() // no-op after Close

	tr := &trackStage{tracker: track.New(an, an,
		track.Options{DetectEvery: o.DetectEvery, Smooth: true, FPS: info.FPS})}
	sw := newSwapStage(model, o)
	stages := []Stage{tr, sw, &labelStage{mark.NewEmbedder(payload)}}
	if !labelled {
		stages = stages[:2]
	}

	total := info.Frames
	if o.Limit > 0 && o.Limit < total {
		total = o.Limit
	}
	start := time.Now()
	s := &Summary{Payload: payload, Output: output}
	err = runPipeline(ctx, r, o.Limit, stages, func(f *Frame) error {
		if len(f.Faces) == 0 {
			s.NoFace++
		}
		s.Frames++
		rep.Report(s.Frames, total, fmt.Sprintf("%d without a face", s.NoFace))
		return w.Write(f.Img)
	})
	if err != nil {
		return nil, err
	}
	if s.Frames == 0 {
		return nil, fmt.Errorf("convert: %s: no frames decoded", input)
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	rep.Done()
	s.Swapped = sw.swapped
	s.Seconds = time.Since(start).Seconds()
	s.FPS = float64(s.Frames) / s.Seconds
	return s, nil
}

// runPipeline decodes frames and passes each through the stages and then
// to sink. Every stage runs in a goroutine of its own, joined to the next by
// a small channel: on two cores the tracker works on frame i+1 while the
// swap stage works on frame i and the label stage on frame i-1, instead of
// one core idling. A stage still sees frames one at a time and in order, so
// stages may keep state over time. Frame buffers circulate from the
// decoder to sink and back, so a long video allocates none.
func runPipeline(ctx context.Context, r *media.Reader, limit int, stages []Stage, sink func(*Frame) error) error {
	if !pipelined {
		stages = []Stage{chain(stages)}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		failOnce sync.Once
		failure  error
	)
	fail := func(err error) {
		failOnce.Do(func() { failure = err; cancel() })
	}
	// Enough buffers for the frames each stage holds and one in each
	// channel.
	const chanCap = 1
	held := 0
	for _, st := range stages {
		held += batchSize(st)
	}
	free := make(chan *image.RGBA, held+len(stages)+4)
	for i := 0; i < cap(free); i++ {
		free <- r.NewFrame()
	}

	decoded := make(chan *Frame, chanCap)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(decoded)
		for i := 0; limit <= 0 || i < limit; i++ {
			var buf *image.RGBA
			select {
			case buf = <-free:
			case <-ctx.Done():
				return
			}
			if err := r.Read(buf); err != nil {
				if !errors.Is(err, io.EOF) {
					fail(err)
				}
				return
			}
			select {
			case decoded <- &Frame{Index: i, Img: buf}:
			case <-ctx.Done():
				return
			}
		}
	}()
	var in <-chan *Frame = decoded
	for _, st := range stages {
		out := make(chan *Frame, chanCap)
		wg.Add(1)
		go func(st Stage, in <-chan *Frame, out chan<- *Frame) {
			defer wg.Done()
			defer close(out)
			// Each OS thread that calls libtorch gets an OpenMP pool of
			// its own; a stage that wandered across threads would
			// leave pools behind and oversubscribe the cores.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			for batch := range batches(in, batchSize(st)) { // after a failure, drain so upstream never blocks
				if ctx.Err() != nil {
					continue
				}
				var err error
				if b, ok := st.(Batcher); ok && len(batch) > 1 {
					err = b.ProcessBatch(ctx, batch)
				} else {
					err = st.Process(ctx, batch[0])
				}
				if err != nil {
					fail(err)
					continue
				}
				for _, f := range batch {
					select {
					case out <- f:
					case <-ctx.Done():
					}
				}
			}
		}(st, in, out)
		in = out
	}
	for f := range in {
		if ctx.Err() != nil {
			continue
		}
		if err := sink(f); err != nil {
			fail(err)
			continue
		}
		free <- f.Img
	}
	wg.Wait()
	if failure != nil {
		return failure
	}
	return ctx.Err()
}

// batchSize is how many frames st takes at once.
func batchSize(st Stage) int {
	if b, ok := st.(Batcher); ok {
		return max(1, b.BatchSize())
	}
	return 1
}

// batches groups the frames from in into slices of n (the last may be
// shorter): it waits for n frames rather than taking what is there, since
// the stage after a slow one would otherwise see batches of one.
func batches(in <-chan *Frame, n int) <-chan []*Frame {
	out := make(chan []*Frame)
	go func() {
		defer close(out)
		var b []*Frame
		for f := range in {
			b = append(b, f)
			if len(b) == n {
				out <- b
				b = nil
			}
		}
		if len(b) > 0 {
			out <- b
		}
	}()
	return out
}

// pipelined and labelled are false only in the benchmarks that measure what
// running the stages on goroutines of their own gains, and what the label
// costs. Nothing outside this package's tests can turn the label off.
var pipelined, labelled = true, true

// chain runs stages one after the other in the caller's goroutine.
type chain []Stage

func (c chain) Process(ctx context.Context, f *Frame) error {
	for _, st := range c {
		if err := st.Process(ctx, f); err != nil {
			return err
		}
	}
	return nil
}

// trackStage finds the faces and their landmarks, tracking them over time.
type trackStage struct{ tracker *track.Tracker }

func (s *trackStage) Process(_ context.Context, f *Frame) error {
	f.Faces = s.tracker.Update(face.Gray(f.Img))
	return nil
}

// labelStage watermarks every frame; it runs last, after anything that
// changes pixels.
type labelStage struct{ e *mark.Embedder }

func (s *labelStage) Process(_ context.Context, f *Frame) error {
	s.e.Embed(f.Img)
	return nil
}
