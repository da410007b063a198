package swap

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/facesynth/facesynth/internal/align"
	"github.com/facesynth/facesynth/internal/extract"
	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/media"
)

// FaceSet is one identity's training faces, resized to the model's size and
// kept in memory with their landmark-hull masks.
//
// Pixels are kept as 8-bit RGB rather than float32: augmentation resamples
// every face anyway and produces floats then, and a quarter of the memory
// lets a set of 20 000 faces at 64 px fit in 330 MB (1.3 GB at 128 px).
type FaceSet struct {
	Dir   string
	Size  int
	Names []string  // crop files, relative to Dir
	RGB   [][]uint8 // per face, Size·Size·3 bytes, row-major, interleaved RGB
	Mask  [][]uint8 // per face, Size·Size bytes, 255 inside the landmark hull
	// Skipped counts faces listed in alignments.json that were not loaded:
	// their crop file is gone (deleted while curating the set) or they
	// have no 68 landmarks.
	Skipped int
}

// Len is the number of faces.
func (s *FaceSet) Len() int { return len(s.RGB) }

// LoadFaceSet reads an extract folder (DIR/alignments.json and the crops it
// lists under DIR/faces/) at size×size pixels. The mask of each face is the
// hull of its landmarks, mapped from frame pixels into the crop by the
// face's transform. Faces whose crop was deleted are skipped, so a set is
// curated by deleting files; a folder with no face left is an error.
func LoadFaceSet(ctx context.Context, dir string, size int) (*FaceSet, error) {
	if size < 8 {
		return nil, fmt.Errorf("swap: face size %d too small", size)
	}
	alPath := filepath.Join(dir, extract.FileName)
	if _, err := os.Stat(alPath); errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("swap: face set: %w", err)
		}
		return nil, fmt.Errorf("swap: face set %s: no %s (not an extract folder; run facesynth extract first)", dir, extract.FileName)
	}
	al, err := extract.ReadAlignments(alPath)
	if err != nil {
		return nil, fmt.Errorf("swap: face set: %w", err)
	}
	type job struct {
		file string
		pts  []face.Point // in crop pixels
	}
	var jobs []job
	set := &FaceSet{Dir: dir, Size: size}
	for _, fr := range al.Frames {
		for _, f := range fr.Faces {
			if f.File == "" || len(f.Landmarks) != face.NumLandmarks {
				set.Skipped++
				continue
			}
			t := align.Transform{A: f.Transform[0], B: f.Transform[1], C: f.Transform[2],
				D: f.Transform[3], E: f.Transform[4], F: f.Transform[5]}
			if !t.Valid() {
				set.Skipped++
				continue
			}
			jobs = append(jobs, job{f.File, t.ApplyAll(face.FromJSON(f.FaceJSON).Landmarks)})
		}
	}

	type result struct {
		rgb, mask []uint8
		err       error
		missing   bool
	}
	results := make([]result, len(jobs))
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := &results[i]
				img, err := media.LoadImage(filepath.Join(dir, jobs[i].file))
				if errors.Is(err, fs.ErrNotExist) {
					r.missing = true
					continue
				}
				if err != nil {
					r.err = fmt.Errorf("swap: face set: %w", err)
					continue
				}
				r.rgb, r.mask = prepareFace(img, jobs[i].pts, size)
			}
		}()
	}
	for i := range jobs {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	listed := len(jobs) + set.Skipped
	for i, r := range results {
		switch {
		case r.err != nil:
			return nil, r.err
		case r.missing:
			set.Skipped++
		default:
			set.Names = append(set.Names, jobs[i].file)
			set.RGB = append(set.RGB, r.rgb)
			set.Mask = append(set.Mask, r.mask)
		}
	}
	if set.Len() == 0 {
		return nil, fmt.Errorf("swap: face set %s: no faces to train on (%d listed in %s, none with a crop file and 68 landmarks)",
			dir, listed, extract.FileName)
	}
	return set, nil
}

// prepareFace resizes a crop to size and draws its hull mask from landmarks
// given in the crop's pixels.
func prepareFace(img image.Image, pts []face.Point, size int) (rgb, mask []uint8) {
	b := img.Bounds()
	rgb = resizeRGB(img, size)
	// Pixel centres sit on integers, so the crop's continuous extent
	// [-0.5, w-0.5] maps onto [-0.5, size-0.5].
	sx, sy := float64(size)/float64(b.Dx()), float64(size)/float64(b.Dy())
	scaled := make([]face.Point, len(pts))
	for i, p := range pts {
		scaled[i] = face.Point{X: (p.X+0.5)*sx - 0.5, Y: (p.Y+0.5)*sy - 0.5}
	}
	m := align.HullMask(scaled, size, size)
	return rgb, m.Pix
}

// resizeRGB returns img as size×size interleaved 8-bit RGB: an area
// average when shrinking (a crop of 256 px down to 64 would alias with
// point or bilinear sampling), bilinear when enlarging.
func resizeRGB(img image.Image, size int) []uint8 {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	src := make([]float32, w*h*3)
	rgba, ok := img.(*image.RGBA)
	if !ok {
		rgba = image.NewRGBA(image.Rect(0, 0, w, h))
		draw.Draw(rgba, rgba.Rect, img, b.Min, draw.Src)
		b = rgba.Rect
	}
	for y := 0; y < h; y++ {
		row := rgba.Pix[(y+b.Min.Y-rgba.Rect.Min.Y)*rgba.Stride+(b.Min.X-rgba.Rect.Min.X)*4:]
		for x := 0; x < w; x++ {
			for c := 0; c < 3; c++ {
				src[(y*w+x)*3+c] = float32(row[4*x+c])
			}
		}
	}
	tmp := resample(src, w, h, 3, size, true)     // horizontal pass
	out := resample(tmp, size, h, 3, size, false) // vertical pass
	px := make([]uint8, len(out))
	for i, v := range out {
		px[i] = uint8(min(max(v+0.5, 0), 255))
	}
	return px
}

// resample resizes one axis of an interleaved w×h×ch float image to n
// samples: horizontal when horiz, else vertical.
func resample(src []float32, w, h, ch, n int, horiz bool) []float32 {
	length, lines := h, w // samples along the axis, lines across it
	if horiz {
		length, lines = w, h
	}
	ow, oh := w, n
	if horiz {
		ow, oh = n, h
	}
	out := make([]float32, ow*oh*ch)
	at := func(line, i int) int { // index of sample i of a line
		if horiz {
			return (line*w + i) * ch
		}
		return (i*w + line) * ch
	}
	put := func(line, j int) int {
		if horiz {
			return (line*ow + j) * ch
		}
		return (j*ow + line) * ch
	}
	scale := float64(length) / float64(n)
	for j := 0; j < n; j++ {
		// Source taps and weights for output sample j.
		var taps []int
		var weights []float64
		if scale >= 1 { // area: the source interval [j·scale, (j+1)·scale)
			lo, hi := float64(j)*scale, float64(j+1)*scale
			for i := int(lo); i < length && float64(i) < hi; i++ {
				wgt := min(hi, float64(i+1)) - max(lo, float64(i))
				if wgt > 0 {
					taps, weights = append(taps, i), append(weights, wgt/scale)
				}
			}
		} else { // bilinear between pixel centres
			x := (float64(j)+0.5)*scale - 0.5
			i0 := int(x)
			if x < 0 {
				i0 = -1
			}
			f := x - float64(i0)
			i1 := min(max(i0+1, 0), length-1)
			i0 = min(max(i0, 0), length-1)
			taps, weights = []int{i0, i1}, []float64{1 - f, f}
		}
		for line := 0; line < lines; line++ {
			o := put(line, j)
			for c := 0; c < ch; c++ {
				var acc float64
				for k, i := range taps {
					acc += weights[k] * float64(src[at(line, i)+c])
				}
				out[o+c] = float32(acc)
			}
		}
	}
	return out
}
