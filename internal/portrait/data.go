package portrait

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"

	"github.com/facesynth/facesynth/internal/align"
	"github.com/facesynth/facesynth/internal/analyze"
	"github.com/facesynth/facesynth/internal/animate"
	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/progress"
	"github.com/facesynth/facesynth/internal/track"
)

// Clip is a target video's face, frame by frame: the landmarks (in frame
// coordinates) and the aligned face crop of every frame where the face was
// found. The renderer learns from it to draw this face for any landmarks.
type Clip struct {
	Points [][]face.Point // per frame; nil where no face was found
	Crops  []*image.RGBA  // per frame, Size×Size; nil where no face was found
}

// Len is the number of frames.
func (c *Clip) Len() int { return len(c.Points) }

// ReadClip tracks the main face of video through its first limit frames
// (0: all) and cuts its aligned crops.
func ReadClip(ctx context.Context, video string, limit int, rep progress.Reporter) (*Clip, error) {
	rep = progress.Of(rep)
	r, err := media.OpenVideo(ctx, video)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	an, err := analyze.Default()
	if err != nil {
		return nil, err
	}
	tr := track.New(an, an, track.Options{Smooth: true, FPS: r.Info().FPS})
	total := r.Info().Frames
	if limit > 0 && limit < total {
		total = limit
	}
	c := &Clip{}
	buf := r.NewFrame()
	found := 0
	for limit <= 0 || c.Len() < limit {
		if err := r.Read(buf); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, err
		}
		var pts []face.Point
		var crop *image.RGBA
		if fs := tr.Update(face.Gray(buf)); len(fs) > 0 {
			pts = fs[0].Landmarks
			if t := CropTransform(pts); t.Valid() {
				crop = align.Crop(buf, t, Size)
				found++
			} else {
				pts = nil
			}
		}
		c.Points = append(c.Points, pts)
		c.Crops = append(c.Crops, crop)
		rep.Report(c.Len(), total, "")
	}
	if found < 2*Context {
		return nil, fmt.Errorf("portrait: %s: a face in only %d frames, too few to learn from", video, found)
	}
	return c, nil
}

// CropTransform maps a frame to the face crop the renderer works in: the
// aligned crop, widened so the chin, brows and a margin of hair and
// background are in it (the renderer paints what the mesh warp cannot:
// the inside of the mouth, wrinkles, shading).
func CropTransform(pts []face.Point) align.Transform {
	return align.ToCrop(pts, Size)
}

// conditioner builds the generator's input for a frame: the sketches of
// its landmarks and of the ones before, and the reference frame warped to
// its landmarks. It keeps a buffer: one per goroutine.
type conditioner struct {
	ref    *animate.Animator
	warped *image.RGBA
}

func newConditioner(refCrop *image.RGBA, refPts []face.Point) (*conditioner, error) {
	a, err := animate.New(refCrop, face.Face{Landmarks: refPts})
	if err != nil {
		return nil, fmt.Errorf("portrait: reference frame: %w", err)
	}
	return &conditioner{ref: a, warped: image.NewRGBA(image.Rect(0, 0, Size, Size))}, nil
}

// fill writes frame i's input into dst (inChannels planes of Size²), all in
// the crop that t cuts.
func (c *conditioner) fill(dst []float32, seq [][]face.Point, i int, t align.Transform) error {
	n := Context * SketchChannels * Size * Size
	sketches(dst[:n], seq, i, t)
	if err := c.ref.RenderPoints(c.warped, t.ApplyAll(seq[i])); err != nil {
		return fmt.Errorf("portrait: %w", err)
	}
	toCHW(dst[n:], c.warped)
	return nil
}

// sketches fills dst (Context·3 planes of Size²) with the sketches of
// frames i, i−1, … of seq, all placed with frame i's crop transform t:
// earlier frames appear where they were relative to this one, which is the
// motion the renderer reads. Missing frames repeat the nearest later one.
func sketches(dst []float32, seq [][]face.Point, i int, t align.Transform) {
	plane := SketchChannels * Size * Size
	for k := 0; k < Context; k++ {
		j := i - k
		for j < i && (j < 0 || seq[j] == nil) {
			j++
		}
		DrawSketch(dst[k*plane:(k+1)*plane], t.ApplyAll(seq[j]), Size)
	}
}
