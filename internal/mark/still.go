package mark

import "image"

// A Still is a picture marked once, for the frames of a video that show it
// changed only inside one rectangle: a talking photo, where the face moves
// and the rest is the photo. EmbedFrame marks such a frame by copying the
// picture's mark outside the rectangle and measuring and marking only
// inside it. On a 512×512 portrait whose face region is a fifth of the
// frame that is most of the marking work saved, and marking was two
// thirds of the CPU a talking photo spent in Go.
//
// The result differs from Embed of the same frame only in strength: the
// picture's frame-level strength is kept, rather than recomputed for
// every frame (the region's texture changes the frame's by a percent or
// so). A Still is read-only and may be shared by goroutines.
type Still struct {
	marked *image.RGBA     // the picture with its mark, origin at 0,0
	rect   image.Rectangle // the changing region widened to whole mask blocks
	blocks image.Rectangle // rect in block coordinates
	amp    []float32       // the picture's block amplitudes
	scale  float32         // the picture's common factor (see measure)
}

// NewStill marks picture (which it does not change) for frames that differ
// from it only inside changing, in picture's coordinates.
func (e *Embedder) NewStill(picture *image.RGBA, changing image.Rectangle) *Still {
	b := picture.Rect
	marked := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := range b.Dy() {
		copy(marked.Pix[y*marked.Stride:][:4*b.Dx()], picture.Pix[picture.PixOffset(b.Min.X, b.Min.Y+y):][:4*b.Dx()])
	}
	s := &Still{marked: marked}
	if marked.Rect.Empty() {
		return s
	}
	e.Embed(marked)
	s.amp = append([]float32(nil), e.blockAmp...)
	s.scale = e.scale
	// Widen the region to whole blocks, so every block it touches is
	// measured afresh from the frame.
	r := changing.Sub(b.Min).Intersect(marked.Rect)
	if r.Empty() {
		return s
	}
	s.blocks = image.Rect(r.Min.X/maskBlock, r.Min.Y/maskBlock,
		(r.Max.X+maskBlock-1)/maskBlock, (r.Max.Y+maskBlock-1)/maskBlock)
	s.rect = image.Rectangle{s.blocks.Min.Mul(maskBlock), s.blocks.Max.Mul(maskBlock)}.Intersect(marked.Rect)
	return s
}

// Rect is the region EmbedFrame marks afresh: the changing region given to
// NewStill, widened to the masking blocks, in the picture's coordinates
// with the origin at 0,0.
func (s *Still) Rect() image.Rectangle { return s.rect }

// EmbedFrame marks frame, an unmarked frame of the still's picture that
// differs from it only inside Rect: outside Rect it gets the marked
// picture's pixels, inside the mark measured on the frame. A frame of
// another size is marked whole, by Embed.
func (e *Embedder) EmbedFrame(frame *image.RGBA, s *Still) {
	w, h := s.marked.Rect.Dx(), s.marked.Rect.Dy()
	if frame == nil || frame.Rect.Dx() != w || frame.Rect.Dy() != h || s.amp == nil {
		e.Embed(frame)
		return
	}
	e.resize(w, h)
	copy(e.blockAmp, s.amp)
	if !s.rect.Empty() {
		// Measure before the marked picture is copied in: the gradient
		// at the region's edge looks one pixel beyond it, where the
		// frame still holds the unmarked picture, as Embed would see it.
		e.measureBlocks(frame, s.blocks)
		bw := (w + maskBlock - 1) / maskBlock
		for by := s.blocks.Min.Y; by < s.blocks.Max.Y; by++ {
			row := e.blockAmp[by*bw:]
			for bx := s.blocks.Min.X; bx < s.blocks.Max.X; bx++ {
				row[bx] *= s.scale
			}
		}
	}
	// Outside the region: the marked picture, row by row around it.
	for y := range h {
		dst := frame.Pix[frame.PixOffset(frame.Rect.Min.X, frame.Rect.Min.Y+y):][:4*w]
		src := s.marked.Pix[y*s.marked.Stride:][:4*w]
		if y < s.rect.Min.Y || y >= s.rect.Max.Y {
			copy(dst, src)
			continue
		}
		copy(dst[:4*s.rect.Min.X], src[:4*s.rect.Min.X])
		copy(dst[4*s.rect.Max.X:], src[4*s.rect.Max.X:])
	}
	e.apply(frame, s.rect)
}
