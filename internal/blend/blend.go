// Package blend puts a generated face back into a frame without seams or
// colour shifts: colour matching (Reinhard statistics in CIE Lab, histogram
// matching), mask morphology (erode, dilate, feather, intersect), alpha and
// Poisson (seamless) blending, and the seam and flicker measures the
// converter's tests use.
//
// Everything works in the aligned crop's space. For one face of a frame:
//
//	orig := align.Crop(frame, t, size)                 // the face being replaced
//	mask, _ := blend.Intersect(modelMask, hullMask)     // where to paint
//	mask = blend.Feather(blend.Erode(mask, size/32), size/32)
//	face, _ := blend.MatchColor(generated, orig, mask, blend.Reinhard)
//	face, _ = blend.Poisson(orig, face, mask, 0)        // equal to orig outside the mask
//	align.Paste(frame, face, mask, t)
//
// Every verb returns a new image and leaves its inputs alone. Images and
// masks are addressed from their own Bounds().Min, so a crop at the origin
// and a sub-image of a frame line up pixel for pixel when they have the same
// size; results take the bounds of the first image argument. Masks are
// weights 0..255 (0 keeps the destination, 255 takes the source), and a nil
// mask means 255 everywhere. Verbs that take several images return an error
// when one is nil or their sizes differ; verbs on one image never fail.
//
// Colours are the stored 8-bit values of *image.RGBA. The face crops this
// package is made for are opaque; colour statistics weigh a pixel by its
// alpha too, so the transparent padding that align.Crop leaves beyond the
// frame edge never counts.
package blend

import (
	"fmt"
	"image"
	"runtime"
	"sync"
)

// sameSize checks that every image is non-nil and as large as the first.
// names label the images in the error.
func sameSize(names []string, imgs ...image.Image) error {
	var want image.Rectangle
	for i, m := range imgs {
		if isNil(m) {
			return fmt.Errorf("blend: %s is nil", names[i])
		}
		r := m.Bounds()
		if i == 0 {
			want = r
			continue
		}
		if r.Dx() != want.Dx() || r.Dy() != want.Dy() {
			return fmt.Errorf("blend: %s is %dx%d but %s is %dx%d",
				names[i], r.Dx(), r.Dy(), names[0], want.Dx(), want.Dy())
		}
	}
	return nil
}

// isNil catches both a nil interface and a typed nil pointer, which is what
// a caller passing a nil *image.RGBA hands us.
func isNil(m image.Image) bool {
	switch v := m.(type) {
	case nil:
		return true
	case *image.RGBA:
		return v == nil
	case *image.Gray:
		return v == nil
	}
	return false
}

// checkMask is sameSize for an optional mask: nil is allowed.
func checkMask(img image.Image, imgName string, mask *image.Gray) error {
	if mask == nil {
		return nil
	}
	return sameSize([]string{imgName, "mask"}, img, mask)
}

// cloneRGBA copies img into a new image with the same bounds and a tight
// stride.
func cloneRGBA(img *image.RGBA) *image.RGBA {
	out := image.NewRGBA(img.Rect)
	w := 4 * img.Rect.Dx()
	for y := 0; y < img.Rect.Dy(); y++ {
		copy(out.Pix[y*out.Stride:y*out.Stride+w], img.Pix[y*img.Stride:])
	}
	return out
}

// cloneGray copies m like cloneRGBA; a nil mask gives an empty one.
func cloneGray(m *image.Gray) *image.Gray {
	if m == nil {
		return image.NewGray(image.Rectangle{})
	}
	out := image.NewGray(m.Rect)
	w := m.Rect.Dx()
	for y := 0; y < m.Rect.Dy(); y++ {
		copy(out.Pix[y*out.Stride:y*out.Stride+w], m.Pix[y*m.Stride:])
	}
	return out
}

// rowRGBA is row y (counted from the top of img) as 4·width bytes.
func rowRGBA(img *image.RGBA, y int) []uint8 {
	i := y * img.Stride
	return img.Pix[i : i+4*img.Rect.Dx() : i+4*img.Rect.Dx()]
}

// rowGray is row y of m, or nil for a nil mask (callers read 255 then).
func rowGray(m *image.Gray, y int) []uint8 {
	if m == nil {
		return nil
	}
	i := y * m.Stride
	return m.Pix[i : i+m.Rect.Dx() : i+m.Rect.Dx()]
}

// parallelMinPixels is the work below which handing rows to goroutines costs
// more than it saves: at 64×64 a pass takes a few microseconds, about what
// starting and joining the goroutines does.
const parallelMinPixels = 96 * 96

// parallel runs fn over row ranges [y0, y1) covering [0, rows), split over
// GOMAXPROCS goroutines when the image is large enough to gain from it.
func parallel(rows, cols int, fn func(y0, y1 int)) {
	procs := runtime.GOMAXPROCS(0)
	if procs < 2 || rows < 2 || rows*cols < parallelMinPixels {
		fn(0, rows)
		return
	}
	n := min(procs, rows)
	var wg sync.WaitGroup
	for k := 1; k < n; k++ {
		y0, y1 := k*rows/n, (k+1)*rows/n
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(y0, y1)
		}()
	}
	fn(0, rows/n) // the calling goroutine takes the first share
	wg.Wait()
}

// clamp8 rounds v to the nearest 8-bit level.
func clamp8(v float32) uint8 {
	if v <= 0 {
		return 0
	}
	if v >= 254.5 {
		return 255
	}
	return uint8(v + 0.5)
}
