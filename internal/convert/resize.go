package convert

import (
	"image"

	"github.com/facesynth/facesynth/internal/align"
	"github.com/facesynth/facesynth/internal/face"
)

type facePoint = face.Point

// scaleTo is the transform that maps an n-px image onto a size-px one with
// pixel centres kept aligned: x' = s(x+½)−½.
func scaleTo(n, size int) align.Transform {
	s := float64(size) / float64(n)
	return align.Transform{A: s, C: s/2 - 0.5, E: s, F: s/2 - 0.5}
}

// resize scales a square model output to the working crop size.
func resize(img *image.RGBA, size int) *image.RGBA {
	if img.Rect.Dx() == size {
		return img
	}
	out := align.Warp(img, scaleTo(img.Rect.Dx(), size), size, size)
	// Warp fades pixels near the source border toward transparent; a
	// generated face is opaque everywhere.
	for i := 3; i < len(out.Pix); i += 4 {
		out.Pix[i] = 255
	}
	return out
}

// resizeGray scales a square mask to size.
func resizeGray(m *image.Gray, size int) *image.Gray {
	if m.Rect.Dx() == size {
		return m
	}
	rgba := image.NewRGBA(m.Rect)
	for i, v := range m.Pix {
		rgba.Pix[4*i], rgba.Pix[4*i+1], rgba.Pix[4*i+2], rgba.Pix[4*i+3] = v, v, v, 255
	}
	up := resize(rgba, size)
	out := image.NewGray(image.Rect(0, 0, size, size))
	for i := range out.Pix {
		out.Pix[i] = up.Pix[4*i]
	}
	return out
}
