package fewshot

import (
	"context"
	"fmt"
	"image"
	"math"
	"path/filepath"

	"github.com/facesynth/facesynth/internal/align"
	"github.com/facesynth/facesynth/internal/analyze"
	"github.com/facesynth/facesynth/internal/dataset"
	"github.com/facesynth/facesynth/internal/extract"
	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/portrait"
	"github.com/facesynth/facesynth/internal/progress"
)

// Shot is one frame of a person as the networks see it: the aligned face
// crop (Size×Size) and its 68 landmarks in crop coordinates.
type Shot struct {
	Crop   *image.RGBA
	Points []face.Point
}

// cropSize is the side of the crops that the dataset keeps and that
// frames are cut to first; halving them gives Size. Cutting at 128 and
// box-filtering down keeps a frame's crop the same whether it comes from
// a dataset or straight from a video, and anti-aliased.
const cropSize = dataset.FaceSize

// CropTransform maps a frame to the Size×Size crop: dataset's (and
// portrait's) aligned 128 px crop, halved. Crop pixels sample at whole
// coordinates, so 64 px pixel j covers 128 px pixels 2j and 2j+1, whose
// centre 2j+½ is j+¼ after halving: hence the −¼.
func CropTransform(pts []face.Point) align.Transform {
	return half(align.ToCrop(pts, cropSize))
}

func half(t align.Transform) align.Transform {
	return align.Transform{A: t.A / 2, B: t.B / 2, C: t.C/2 - 0.25, D: t.D / 2, E: t.E / 2, F: t.F/2 - 0.25}
}

// NewShot cuts the face with landmarks pts (frame coordinates) out of img.
func NewShot(img image.Image, pts []face.Point) (Shot, error) {
	t := align.ToCrop(pts, cropSize)
	if !t.Valid() {
		return Shot{}, fmt.Errorf("fewshot: landmarks give no face crop")
	}
	return Shot{Crop: halve(align.Crop(img, t, cropSize)), Points: half(t).ApplyAll(pts)}, nil
}

// halve box-filters a 2n×2n crop to n×n.
func halve(src *image.RGBA) *image.RGBA {
	n := src.Rect.Dx() / 2
	dst := image.NewRGBA(image.Rect(0, 0, n, n))
	for y := 0; y < n; y++ {
		r0 := src.Pix[2*y*src.Stride:]
		r1 := src.Pix[(2*y+1)*src.Stride:]
		for x := 0; x < n; x++ {
			for c := 0; c < 4; c++ {
				s := int(r0[8*x+c]) + int(r0[8*x+4+c]) + int(r1[8*x+c]) + int(r1[8*x+4+c])
				dst.Pix[y*dst.Stride+4*x+c] = uint8((s + 2) / 4)
			}
		}
	}
	return dst
}

// Video is one training video of a meta-learning set: its name and the
// frames kept from it.
type Video struct {
	Name  string
	Shots []Shot
}

// LoadDataset reads the samples of a dataset folder (facesynth dataset
// build) as training videos, each with at most perVideo frames spread
// evenly over the frames where its face was found. Videos with fewer than
// minFrames such frames are left out (an episode needs K+1 distinct frames).
func LoadDataset(ctx context.Context, dir string, perVideo, minFrames int, rep progress.Reporter) ([]Video, error) {
	rep = progress.Of(rep)
	samples, err := dataset.Open(dir)
	if err != nil {
		return nil, err
	}
	var out []Video
	for i, s := range samples {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		v, err := loadSample(s, perVideo)
		if err != nil {
			return nil, err
		}
		if len(v.Shots) >= minFrames {
			out = append(out, v)
		}
		rep.Report(i+1, len(samples), s.Name)
	}
	if len(out) < 2 {
		return nil, fmt.Errorf("fewshot: %s: %d videos with at least %d face frames; meta-learning needs two or more", dir, len(out), minFrames)
	}
	return out, nil
}

func loadSample(s *dataset.Sample, perVideo int) (Video, error) {
	al, err := extract.ReadAlignments(filepath.Join(s.Dir, s.Alignments))
	if err != nil {
		return Video{}, err
	}
	type found struct {
		file string
		pts  []face.Point
	}
	var frames []found
	for _, fr := range al.Frames {
		for _, f := range fr.Faces {
			if f.Track != s.Track || len(f.Landmarks) != face.NumLandmarks {
				continue
			}
			t := f.Transform
			crop := align.Transform{A: t[0], B: t[1], C: t[2], D: t[3], E: t[4], F: t[5]}
			frames = append(frames, found{f.File, half(crop).ApplyAll(face.FromJSON(f.FaceJSON).Landmarks)})
		}
	}
	v := Video{Name: s.Name}
	for _, k := range Spread(len(frames), perVideo) {
		img, err := media.LoadImage(filepath.Join(s.Dir, frames[k].file))
		if err != nil {
			return Video{}, err
		}
		if img.Rect.Dx() != cropSize || img.Rect.Dy() != cropSize {
			return Video{}, fmt.Errorf("fewshot: %s: face crop %s is %dx%d, want %d px", s.Dir, frames[k].file, img.Rect.Dx(), img.Rect.Dy(), cropSize)
		}
		v.Shots = append(v.Shots, Shot{Crop: halve(img), Points: frames[k].pts})
	}
	return v, nil
}

// Spread picks k of n indices, evenly spaced from the first to the last
// (all n when k ≥ n or k ≤ 0).
func Spread(n, k int) []int {
	if k <= 0 || k >= n {
		k = n
	}
	out := make([]int, k)
	for i := range out {
		if k > 1 {
			out[i] = int(math.Round(float64(i) * float64(n-1) / float64(k-1)))
		}
	}
	return out
}

// ReadShots tracks the main face through video (its first limit frames;
// 0: all) and returns k of its face frames spread evenly over it (k ≤ 0:
// all of them).
func ReadShots(ctx context.Context, video string, k, limit int, rep progress.Reporter) ([]Shot, error) {
	clip, err := portrait.ReadClip(ctx, video, limit, rep)
	if err != nil {
		return nil, err
	}
	var have []int
	for i, c := range clip.Crops {
		if c != nil {
			have = append(have, i)
		}
	}
	if k > len(have) {
		return nil, fmt.Errorf("fewshot: %s: a face in %d frames, fewer than the %d shots asked for", video, len(have), k)
	}
	var out []Shot
	for _, j := range Spread(len(have), k) {
		i := have[j]
		t := align.ToCrop(clip.Points[i], cropSize) // the clip's crops are cut with this
		out = append(out, Shot{Crop: halve(clip.Crops[i]), Points: half(t).ApplyAll(clip.Points[i])})
	}
	return out, nil
}

// ReadPhotoShot finds the largest face in a photo and cuts its shot.
func ReadPhotoShot(path string) (Shot, error) {
	img, err := media.LoadImage(path)
	if err != nil {
		return Shot{}, err
	}
	an, err := analyze.Default()
	if err != nil {
		return Shot{}, err
	}
	f, ok := face.Largest(an.Faces(img))
	if !ok {
		return Shot{}, fmt.Errorf("fewshot: %s: %w", path, ErrNoFace)
	}
	return NewShot(img, f.Landmarks)
}

// sketchOf draws a shot's landmarks into dst (3·Size² floats).
func sketchOf(dst []float32, pts []face.Point) { portrait.DrawSketch(dst, pts, Size) }

// planar writes a Size×Size RGBA crop into dst as planar RGB in [0, 1].
func planar(dst []float32, img *image.RGBA) {
	const n = Size * Size
	for i := 0; i < n; i++ {
		p := img.Pix[4*i : 4*i+3 : 4*i+3]
		dst[i], dst[n+i], dst[2*n+i] = float32(p[0])/255, float32(p[1])/255, float32(p[2])/255
	}
}

// toRGBA is planar's inverse for one image.
func toRGBA(src []float32) *image.RGBA {
	const n = Size * Size
	img := image.NewRGBA(image.Rect(0, 0, Size, Size))
	for i := 0; i < n; i++ {
		for c := 0; c < 3; c++ {
			img.Pix[4*i+c] = uint8(math.Round(float64(max(0, min(1, src[c*n+i]))) * 255))
		}
		img.Pix[4*i+3] = 255
	}
	return img
}

// faceWeight writes the per-pixel weight of the reconstruction loss: 1
// inside the face's hull (brows lifted, a little grown), 0.1 outside.
// Rendered faces are pasted inside that hull, so the background counts
// only enough to keep it from drifting into nonsense at the hull's edge.
func faceWeight(dst []float32, pts []face.Point) {
	m := align.HullMask(pts, Size, Size, align.BrowLift(0.2), align.Dilate(2))
	for i, v := range m.Pix {
		dst[i] = 0.1 + 0.9*float32(v)/255
	}
}
