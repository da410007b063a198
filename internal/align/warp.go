package align

import (
	"image"
	"image/draw"
	"math"
	"runtime"
	"sync"
)

// Crop is the aligned size×size crop of img under t (from ToCrop): Warp with
// a square output.
func Crop(img image.Image, t Transform, size int) *image.RGBA {
	return Warp(img, t, size, size)
}

// Warp resamples img under the affine map t (source pixels → output pixels)
// into a new w×h image, bilinearly. Source coordinates are relative to
// img.Bounds().Min, as landmarks are (face.Gray re-bases images to the
// origin). Output pixels whose source lies outside img are transparent
// black, and those near the border are blended with transparency, so a
// caller can tell real image from padding. A singular t, or a size that is
// not positive, gives an empty (all transparent) image of size max(w,0)×max(h,0).
func Warp(img image.Image, t Transform, w, h int) *image.RGBA {
	w, h = max(w, 0), max(h, 0)
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	inv := t.Invert()
	if w == 0 || h == 0 || !inv.Valid() {
		return out
	}
	src := rgbaRegion(img, sourceRect(img.Bounds(), inv, w, h))
	if src.Rect.Empty() {
		return out
	}
	parallel(h, w, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			// Walk the row incrementally: each output step moves the
			// source point by the first column of the inverse.
			sx := inv.B*float64(y) + inv.C
			sy := inv.E*float64(y) + inv.F
			row := out.Pix[y*out.Stride : y*out.Stride+4*w]
			for x := 0; x < w; x++ {
				r, g, b, a := bilinear(src, sx, sy)
				row[4*x] = uint8((r + 1<<15) >> 16)
				row[4*x+1] = uint8((g + 1<<15) >> 16)
				row[4*x+2] = uint8((b + 1<<15) >> 16)
				row[4*x+3] = uint8((a + 1<<15) >> 16)
				sx += inv.A
				sy += inv.D
			}
		}
	})
	return out
}

// sourceRect is the part of the source (in coordinates relative to bounds.Min)
// that a w×h output under inv can read: the bounding box of the output's
// corners mapped back, one pixel wider for the bilinear neighbours.
func sourceRect(bounds image.Rectangle, inv Transform, w, h int) image.Rectangle {
	minX, minY := math.Inf(1), math.Inf(1)
	maxX, maxY := math.Inf(-1), math.Inf(-1)
	for _, c := range [4][2]float64{{-0.5, -0.5}, {float64(w) - 0.5, -0.5}, {-0.5, float64(h) - 0.5}, {float64(w) - 0.5, float64(h) - 0.5}} {
		x := inv.A*c[0] + inv.B*c[1] + inv.C
		y := inv.D*c[0] + inv.E*c[1] + inv.F
		minX, maxX = math.Min(minX, x), math.Max(maxX, x)
		minY, maxY = math.Min(minY, y), math.Max(maxY, y)
	}
	r := image.Rect(0, 0, bounds.Dx(), bounds.Dy())
	// Clamp before converting so that huge coordinates cannot overflow int.
	lim := func(v float64, hi int) int { return int(math.Max(-1, math.Min(v, float64(hi+1)))) }
	need := image.Rect(lim(math.Floor(minX)-1, r.Dx()), lim(math.Floor(minY)-1, r.Dy()),
		lim(math.Ceil(maxX)+2, r.Dx()), lim(math.Ceil(maxY)+2, r.Dy()))
	return need.Intersect(r)
}

// rgbaRegion returns img as an *image.RGBA whose coordinates are relative to
// img.Bounds().Min, holding at least the region r. An *image.RGBA is used in
// place (a re-based header over the same pixels); any other image type has
// only r converted, so that a small crop of a large frame stays cheap.
func rgbaRegion(img image.Image, r image.Rectangle) *image.RGBA {
	b := img.Bounds()
	if m, ok := img.(*image.RGBA); ok {
		return &image.RGBA{Pix: m.Pix, Stride: m.Stride, Rect: m.Rect.Sub(b.Min)}
	}
	if m, ok := img.(*image.NRGBA); ok && opaque(m, r.Add(b.Min)) {
		// Opaque NRGBA has the same bytes as RGBA.
		return &image.RGBA{Pix: m.Pix, Stride: m.Stride, Rect: m.Rect.Sub(b.Min)}
	}
	out := image.NewRGBA(r)
	draw.Draw(out, r, img, r.Min.Add(b.Min), draw.Src)
	return out
}

func opaque(m *image.NRGBA, r image.Rectangle) bool {
	r = r.Intersect(m.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		i := m.PixOffset(r.Min.X, y)
		for x := r.Min.X; x < r.Max.X; x++ {
			if m.Pix[i+3] != 0xff {
				return false
			}
			i += 4
		}
	}
	return true
}

// bilinear samples m at (x, y), pixel centres on integers, with pixels
// outside m.Rect counting as transparent black. The results are the
// premultiplied channels scaled by 1<<16 (weights are 8-bit fixed point).
func bilinear(m *image.RGBA, x, y float64) (r, g, b, a uint32) {
	r0 := m.Rect
	if !(x > float64(r0.Min.X-1) && y > float64(r0.Min.Y-1) && x < float64(r0.Max.X) && y < float64(r0.Max.Y)) {
		return 0, 0, 0, 0 // also catches NaN
	}
	fx, fy := math.Floor(x), math.Floor(y)
	x0, y0 := int(fx), int(fy)
	wx := uint32((x-fx)*256 + 0.5)
	wy := uint32((y-fy)*256 + 0.5)
	w00, w10 := (256-wx)*(256-wy), wx*(256-wy)
	w01, w11 := (256-wx)*wy, wx*wy
	if x0 >= r0.Min.X && y0 >= r0.Min.Y && x0+1 < r0.Max.X && y0+1 < r0.Max.Y {
		i := (y0-r0.Min.Y)*m.Stride + (x0-r0.Min.X)*4
		p := m.Pix[i : i+8 : i+8]
		q := m.Pix[i+m.Stride : i+m.Stride+8 : i+m.Stride+8]
		r = uint32(p[0])*w00 + uint32(p[4])*w10 + uint32(q[0])*w01 + uint32(q[4])*w11
		g = uint32(p[1])*w00 + uint32(p[5])*w10 + uint32(q[1])*w01 + uint32(q[5])*w11
		b = uint32(p[2])*w00 + uint32(p[6])*w10 + uint32(q[2])*w01 + uint32(q[6])*w11
		a = uint32(p[3])*w00 + uint32(p[7])*w10 + uint32(q[3])*w01 + uint32(q[7])*w11
		return r, g, b, a
	}
	// Border: add only the neighbours that exist.
	for _, n := range [4]struct {
		x, y int
		w    uint32
	}{{x0, y0, w00}, {x0 + 1, y0, w10}, {x0, y0 + 1, w01}, {x0 + 1, y0 + 1, w11}} {
		if n.w == 0 || n.x < r0.Min.X || n.y < r0.Min.Y || n.x >= r0.Max.X || n.y >= r0.Max.Y {
			continue
		}
		i := (n.y-r0.Min.Y)*m.Stride + (n.x-r0.Min.X)*4
		r += uint32(m.Pix[i]) * n.w
		g += uint32(m.Pix[i+1]) * n.w
		b += uint32(m.Pix[i+2]) * n.w
		a += uint32(m.Pix[i+3]) * n.w
	}
	return r, g, b, a
}

// bilinearGray samples a grey image like bilinear, scaled by 1<<16; outside
// pixels count as 0.
func bilinearGray(m *image.Gray, x, y float64) uint32 {
	r0 := m.Rect
	if !(x > float64(r0.Min.X-1) && y > float64(r0.Min.Y-1) && x < float64(r0.Max.X) && y < float64(r0.Max.Y)) {
		return 0
	}
	fx, fy := math.Floor(x), math.Floor(y)
	x0, y0 := int(fx), int(fy)
	wx := uint32((x-fx)*256 + 0.5)
	wy := uint32((y-fy)*256 + 0.5)
	var v uint32
	for _, n := range [4]struct {
		x, y int
		w    uint32
	}{{x0, y0, (256 - wx) * (256 - wy)}, {x0 + 1, y0, wx * (256 - wy)}, {x0, y0 + 1, (256 - wx) * wy}, {x0 + 1, y0 + 1, wx * wy}} {
		if n.w == 0 || n.x < r0.Min.X || n.y < r0.Min.Y || n.x >= r0.Max.X || n.y >= r0.Max.Y {
			continue
		}
		v += uint32(m.Pix[(n.y-r0.Min.Y)*m.Stride+n.x-r0.Min.X]) * n.w
	}
	return v
}

// Paste blends an aligned crop back into dst: every pixel of dst that the
// crop covers under t (the image→crop transform the crop was made with) is
// mixed with the crop, bilinearly resampled, with the mask as alpha (0..255,
// in crop coordinates; nil means fully opaque). The crop's own alpha is
// honoured too, so the transparent padding of a Crop near the frame edge
// never paints. Only the bounding box of the crop's footprint in dst is
// touched. Coordinates in dst are relative to dst.Bounds().Min.
func Paste(dst *image.RGBA, crop *image.RGBA, mask *image.Gray, t Transform) {
	if dst == nil || crop == nil || !t.Valid() || crop.Rect.Empty() {
		return
	}
	inv := t.Invert()
	cw, ch := crop.Rect.Dx(), crop.Rect.Dy()
	// Re-base crop and mask so that their pixel (0,0) is their top-left.
	cr := &image.RGBA{Pix: crop.Pix, Stride: crop.Stride, Rect: crop.Rect.Sub(crop.Rect.Min)}
	var mk *image.Gray
	if mask != nil {
		mk = &image.Gray{Pix: mask.Pix, Stride: mask.Stride, Rect: mask.Rect.Sub(mask.Rect.Min)}
	}
	area := sourceRect(dst.Rect, inv, cw, ch)
	if area.Empty() {
		return
	}
	base := dst.Rect.Min
	parallel(area.Dy(), area.Dx(), func(y0, y1 int) {
		for y := area.Min.Y + y0; y < area.Min.Y+y1; y++ {
			sx := t.A*float64(area.Min.X) + t.B*float64(y) + t.C
			sy := t.D*float64(area.Min.X) + t.E*float64(y) + t.F
			i := dst.PixOffset(base.X+area.Min.X, base.Y+y)
			for x := area.Min.X; x < area.Max.X; x, i = x+1, i+4 {
				r, g, b, a := bilinear(cr, sx, sy)
				m := uint32(255 << 16)
				if mk != nil {
					m = bilinearGray(mk, sx, sy)
				}
				sx += t.A
				sy += t.D
				if a == 0 || m == 0 {
					continue
				}
				// Premultiplied "over" with the mask scaling the crop:
				// out = crop·k + dst·(1 - alpha·k), k = mask/255.
				k := float64(m) / (255 << 16)
				keep := 1 - float64(a)/(255<<16)*k
				p := dst.Pix[i : i+4 : i+4]
				p[0] = clamp8(float64(r)/(1<<16)*k + float64(p[0])*keep)
				p[1] = clamp8(float64(g)/(1<<16)*k + float64(p[1])*keep)
				p[2] = clamp8(float64(b)/(1<<16)*k + float64(p[2])*keep)
				p[3] = clamp8(float64(a)/(1<<16)*k + float64(p[3])*keep)
			}
		}
	})
}

func clamp8(v float64) uint8 {
	v = math.Round(v)
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v)
}

// parallelMinPixels is the work below which splitting rows over goroutines
// costs more than it saves (a 128×128 crop takes well under a millisecond).
const parallelMinPixels = 128 * 128

// parallel runs fn over row ranges [y0, y1) that together cover [0, rows),
// on up to GOMAXPROCS goroutines when the image is large enough to be worth
// it, else in the calling goroutine.
func parallel(rows, cols int, fn func(y0, y1 int)) {
	procs := runtime.GOMAXPROCS(0)
	if procs < 2 || rows < 2 || rows*cols < parallelMinPixels {
		fn(0, rows)
		return
	}
	n := min(procs, rows)
	var wg sync.WaitGroup
	for k := range n {
		y0, y1 := k*rows/n, (k+1)*rows/n
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(y0, y1)
		}()
	}
	wg.Wait()
}
