// Package extract turns a video, an image or a folder of images into a face
// set: aligned crops under DIR/faces/ and DIR/alignments.json. Frames flow
// media → face (detect, track, landmarks) → align (crop) → files; a frame
// without a face is counted and skipped, never fatal.
package extract

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/facesynth/facesynth/internal/align"
	"github.com/facesynth/facesynth/internal/analyze"
	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/progress"
	"github.com/facesynth/facesynth/internal/track"
)

// Options control an extraction.
type Options struct {
	Size        int    // aligned crop size in px (64–512); default 256
	Format      string // "png" (default) or "jpg"
	DetectEvery int    // video: run the detector every N frames (and whenever a track is lost); default 10
	Smooth      bool   // video: One-Euro smoothing of landmarks over time
	Stride      int    // video: keep every Nth frame (1 = all)
	Limit       int    // stop after this many processed frames (0 = all)
	NoCrops     bool   // analyse only: write alignments.json but no crop files (benchmarks)
	Masks       bool   // also write DIR/masks/: the landmark hull of each crop (brows lifted to the forehead)
}

func (o *Options) defaults() error {
	if o.Size == 0 {
		o.Size = 256
	}
	if o.Size < 64 || o.Size > 512 {
		return fmt.Errorf("extract: crop size %d outside 64–512", o.Size)
	}
	switch o.Format {
	case "":
		o.Format = "png"
	case "png", "jpg":
	default:
		return fmt.Errorf("extract: unknown crop format %q (png or jpg)", o.Format)
	}
	if o.DetectEvery <= 0 {
		o.DetectEvery = 10
	}
	if o.Stride <= 0 {
		o.Stride = 1
	}
	return nil
}

// Summary is what an extraction found.
type Summary struct {
	Frames        int     // frames (or images) processed
	Faces         int     // faces written
	NoFace        int     // processed frames without a face
	Tracks        int     // distinct track ids (video)
	Seconds       float64 // wall time
	FramesPerSec  float64
	AlignmentsOut string
}

func (s Summary) String() string {
	return fmt.Sprintf("%d frames, %d faces, %d frames without a face, %d tracks, %.1f frames/s",
		s.Frames, s.Faces, s.NoFace, s.Tracks, s.FramesPerSec)
}

// Run extracts the faces of input into dir.
func Run(ctx context.Context, input, dir string, opts Options, rep progress.Reporter) (*Summary, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	rep = progress.Of(rep)
	st, err := os.Stat(input)
	if err != nil {
		return nil, fmt.Errorf("extract: input %s: %w", input, errors.Unwrap(err))
	}
	an, err := analyze.Default()
	if err != nil {
		return nil, err
	}
	for _, sub := range []string{"faces", "masks"} {
		if sub == "masks" && !opts.Masks {
			continue
		}
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("extract: %w", err)
		}
	}
	start := time.Now()
	var al *Alignments
	switch {
	case st.IsDir():
		al, err = runImages(ctx, an, input, listImages(input), dir, opts, rep)
	case isImage(input):
		al, err = runImages(ctx, an, "", []string{input}, dir, opts, rep)
	default:
		al, err = runVideo(ctx, an, input, dir, opts, rep)
	}
	if err != nil {
		return nil, err
	}
	rep.Done()
	out := filepath.Join(dir, FileName)
	if err := al.write(out); err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	s := summarize(al)
	s.Seconds = time.Since(start).Seconds()
	if s.Seconds > 0 {
		s.FramesPerSec = float64(s.Frames) / s.Seconds
	}
	s.AlignmentsOut = out
	return s, nil
}

func summarize(al *Alignments) *Summary {
	s := &Summary{Frames: len(al.Frames)}
	tracks := map[int]bool{}
	for _, f := range al.Frames {
		if len(f.Faces) == 0 {
			s.NoFace++
		}
		s.Faces += len(f.Faces)
		for _, ff := range f.Faces {
			tracks[ff.Track] = true
		}
	}
	s.Tracks = len(tracks)
	return s
}

func isImage(p string) bool {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".png", ".jpg", ".jpeg":
		return true
	}
	return false
}

func listImages(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		if !e.IsDir() && isImage(e.Name()) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out
}

// cropJob is one aligned crop (or mask) on its way to disk.
type cropJob struct {
	img  image.Image
	path string
}

// saver writes crops on all cores: encoding a PNG costs more than finding
// and aligning the face, so it must not sit on the tracking path.
type saver struct {
	jobs chan cropJob
	wg   sync.WaitGroup
	mu   sync.Mutex
	err  error
}

func newSaver() *saver {
	s := &saver{jobs: make(chan cropJob, 16)}
	for i := 0; i < runtime.GOMAXPROCS(0); i++ {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for j := range s.jobs {
				if err := media.SaveImage(j.path, j.img); err != nil {
					s.mu.Lock()
					if s.err == nil {
						s.err = err
					}
					s.mu.Unlock()
				}
			}
		}()
	}
	return s
}

func (s *saver) close() error {
	close(s.jobs)
	s.wg.Wait()
	return s.err
}

// emit crops and records the faces of one frame.
func emit(img *image.RGBA, faces []face.Face, index int, stem, dir string, opts Options, sv *saver) Frame {
	fr := Frame{Index: index, Faces: []Face{}}
	for i, f := range faces {
		t := align.ToCrop(f.Landmarks, opts.Size)
		id := f.Track
		if id == 0 {
			id = i + 1
		}
		rel := filepath.Join("faces", fmt.Sprintf("%s_%d.%s", stem, id, opts.Format))
		if !opts.NoCrops {
			sv.jobs <- cropJob{align.Crop(img, t, opts.Size), filepath.Join(dir, rel)}
		}
		if opts.Masks {
			m := align.HullMask(t.ApplyAll(f.Landmarks), opts.Size, opts.Size)
			sv.jobs <- cropJob{m, filepath.Join(dir, "masks", fmt.Sprintf("%s_%d.png", stem, id))}
		}
		fr.Faces = append(fr.Faces, Face{FaceJSON: face.ToJSON(f), Track: f.Track, Transform: [6]float64{t.A, t.B, t.C, t.D, t.E, t.F}, File: rel})
	}
	return fr
}

func runImages(ctx context.Context, an *analyze.Analyzer, root string, paths []string, dir string, opts Options, rep progress.Reporter) (*Alignments, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("extract: %s: no PNG or JPEG images in folder", root)
	}
	al := &Alignments{Version: 1, Source: paths[0], Kind: "image", CropSize: opts.Size}
	if root != "" {
		al.Source, al.Kind = root, "images"
	}
	sv := newSaver()
	for i, p := range paths {
		if err := ctx.Err(); err != nil {
			sv.close()
			return nil, err
		}
		if opts.Limit > 0 && i >= opts.Limit {
			break
		}
		img, err := media.LoadImage(p)
		if err != nil {
			sv.close()
			return nil, err
		}
		stem := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
		fr := emit(img, an.Faces(img), i, stem, dir, opts, sv)
		fr.Name = filepath.Base(p)
		if len(paths) == 1 {
			al.Width, al.Height = img.Rect.Dx(), img.Rect.Dy()
		}
		al.Frames = append(al.Frames, fr)
		rep.Report(i+1, len(paths), fmt.Sprintf("%d faces", len(fr.Faces)))
	}
	return al, sv.close()
}

func runVideo(ctx context.Context, an *analyze.Analyzer, input, dir string, opts Options, rep progress.Reporter) (*Alignments, error) {
	r, err := media.OpenVideo(ctx, input)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	info := r.Info()
	al := &Alignments{Version: 1, Source: input, Kind: "video", Width: info.Width, Height: info.Height,
		FPS: info.FPS, CropSize: opts.Size}
	total := (info.Frames + opts.Stride - 1) / opts.Stride
	if opts.Limit > 0 && opts.Limit < total {
		total = opts.Limit
	}

	// Decoding runs ahead in its own goroutine over a small pool of frame
	// buffers, so ffmpeg and the face analysis overlap.
	type decoded struct {
		index int
		img   *image.RGBA
		err   error
	}
	free := make(chan *image.RGBA, 4)
	for i := 0; i < cap(free); i++ {
		free <- r.NewFrame()
	}
	frames := make(chan decoded, cap(free)+1) // +1: room for a final error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(frames)
		for i := 0; ; i++ {
			var buf *image.RGBA
			select {
			case buf = <-free:
			case <-ctx.Done():
				return
			}
			err := r.Read(buf)
			if err != nil {
				if !errors.Is(err, io.EOF) {
					frames <- decoded{err: err}
				}
				return
			}
			if i%opts.Stride != 0 {
				free <- buf
				continue
			}
			frames <- decoded{index: i, img: buf}
		}
	}()

	tr := track.New(an, an, track.Options{DetectEvery: opts.DetectEvery, Smooth: opts.Smooth, FPS: info.FPS})
	sv := newSaver()
	noFace := 0
	for d := range frames {
		if d.err != nil {
			sv.close()
			return nil, d.err
		}
		faces := tr.Update(face.Gray(d.img))
		fr := emit(d.img, faces, d.index, fmt.Sprintf("%06d", d.index), dir, opts, sv)
		free <- d.img
		if len(faces) == 0 {
			noFace++
		}
		al.Frames = append(al.Frames, fr)
		rep.Report(len(al.Frames), total, fmt.Sprintf("%d without a face", noFace))
		if opts.Limit > 0 && len(al.Frames) >= opts.Limit {
			break
		}
	}
	if err := ctx.Err(); err != nil {
		sv.close()
		return nil, err
	}
	if err := sv.close(); err != nil {
		return nil, err
	}
	if len(al.Frames) == 0 {
		return nil, fmt.Errorf("extract: %s: no frames decoded", input)
	}
	return al, nil
}
