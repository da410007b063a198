package dataset

import (
	"image"

	"github.com/facesynth/facesynth/internal/align"
	"github.com/facesynth/facesynth/internal/face"
)

// FaceSize is the side of the aligned face crops a dataset keeps (package
// align's canonical face in a 128 px square: the mouth is about 28 px
// wide, enough to read its shape, and small enough for CPU training).
const FaceSize = 128

// MouthRect is the mouth region inside a FaceSize face crop: 56×40 px from
// just under the nose to below the lower lip of a wide-open mouth. The
// canonical mouth corners sit at x ≈ 50 and 77, the lips at y ≈ 88–98, so
// the box has 4 px to spare on every side of the 48×32 region a model
// reads, for training crops to jitter by without losing the lips.
var MouthRect = image.Rect(36, 76, 92, 116)

// MouthTransform maps frame pixels to the pixels of the mouth image of the
// face with 68 landmarks pts: the face crop's transform (align.ToCrop at
// FaceSize) moved so that MouthRect.Min is the origin. The move is by whole
// pixels, so Mouth samples the frame at exactly the points MouthFromCrop
// reads from the face crop.
func MouthTransform(pts []face.Point) align.Transform {
	t := align.ToCrop(pts, FaceSize)
	t.C -= float64(MouthRect.Min.X)
	t.F -= float64(MouthRect.Min.Y)
	return t
}

// Mouth is the grey MouthRect-sized mouth image of the face with landmarks
// pts in frame, or nil when pts is not a 68-point shape.
func Mouth(frame image.Image, pts []face.Point) *image.Gray {
	t := MouthTransform(pts)
	if !t.Valid() {
		return nil
	}
	return grey(align.Warp(frame, t, MouthRect.Dx(), MouthRect.Dy()))
}

// MouthFromCrop is the grey mouth image of a FaceSize aligned face crop
// (as extract writes them): the MouthRect part of it.
func MouthFromCrop(crop image.Image) *image.Gray {
	b := crop.Bounds()
	r := MouthRect.Add(b.Min)
	sub := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	for y := 0; y < r.Dy(); y++ {
		for x := 0; x < r.Dx(); x++ {
			sub.Set(x, y, crop.At(r.Min.X+x, r.Min.Y+y))
		}
	}
	return grey(sub)
}

// grey is face.Gray's (r+g+b)/3, the plane the landmarks were found on.
func grey(m *image.RGBA) *image.Gray { return face.Gray(m) }
