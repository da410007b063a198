package mark

import (
	"image"
	"math"
	"math/rand/v2"
	"sync"
)

// Option changes how an Embedder or Detector works.
type Option func(*options)

type options struct {
	key  string
	psnr float64
}

// WithKey replaces facesynth's key. Tests use it to show that a detector
// with the wrong key finds nothing; a deployment that wants marks only it
// can find would use its own.
func WithKey(key string) Option { return func(o *options) { o.key = key } }

// WithPSNR sets the embedding strength as the PSNR (dB) a frame of average
// texture has after marking; default DefaultPSNR. Lower is stronger and
// more robust, higher fainter. Values are clamped to 30..60.
func WithPSNR(db float64) Option { return func(o *options) { o.psnr = db } }

// DefaultPSNR keeps the mark under the 40 dB limit with margin for the
// rounding to 8 bits, which adds its own error.
const DefaultPSNR = 40.5

func makeOptions(opts []Option) options {
	o := options{key: DefaultKey, psnr: DefaultPSNR}
	for _, f := range opts {
		f(&o)
	}
	if math.IsNaN(o.psnr) {
		o.psnr = DefaultPSNR
	}
	o.psnr = min(max(o.psnr, 30), 60)
	return o
}

// Perceptual masking works on blocks of maskBlock² pixels, and the
// amplitudes are interpolated between block centres so no block edge
// appears. A block's amplitude, relative to the frame's, is
//
//   - its mean gradient (|Δx|+|Δy| of luma, levels) over maskRef, between
//     maskMin and maskMax: noise hides in texture and shows on walls, sky
//     and smooth skin (the eye's threshold for it rises with the contrast
//     around it);
//   - times lumaMask, less near black and white, where part of the change
//     would be clipped away (and lost, and the mean shifted).
//
// Version 1 followed the square root of the gradient between 0.85 and 1.25
// of the base: flat areas got nearly the full strength. The range is now
// 0.8 to 2, linear: textured blocks take up to 2.5 times what flat ones
// do, and since the frame's PSNR is fixed, flat ones give up what textured
// ones take. maskMin could not go lower: the mark in flat areas is where
// the detector reads a half-size copy best (the picture there is quiet),
// and H.264 at CRF 28 erases a weak mark in flat blocks more than in
// proportion (its quantiser rounds small coefficients to zero: halving the
// mark there left a quarter of it in a half-size copy). With 0.7 the
// payload of half-size clips decoded with about the margin version 1 had;
// 0.8 keeps some of what the better decoder (see decodeWeighted) gained.
const (
	maskBlock         = 8
	maskMin   float32 = 0.8
	maskMax   float32 = 2
	maskRef   float32 = 4 // mean gradient (levels) that gets the base amplitude
	// Within lumaEdge levels of 0 or 255 the amplitude falls linearly to
	// lumaMin times the rest at black or white.
	lumaEdge float32 = 16
	lumaMin  float32 = 0.5
)

// Embedder adds one payload's mark to frames. It keeps buffers for the last
// frame size, so one Embedder serves a whole video without allocating; it
// is not safe for concurrent use (make one per goroutine: they are cheap).
type Embedder struct {
	payload Payload
	tile    []float32 // unit-RMS pattern, tileSize²
	rms     float64   // target RMS change in levels
	// blockEnergy is the sum of tile² over each maskBlock² block of the
	// tile, so a frame's exact mean squared change is known before any
	// pixel is touched.
	blockEnergy []float32
	// roundNoise[i] is the mean energy that dithered rounding to whole
	// levels adds to the tile drawn at amplitude i/roundSteps.
	roundNoise []float32

	w, h     int
	scale    float32 // the common factor measure found for the last frame
	luma     []uint8
	blockAmp []float32 // per block, then scaled in place
	blockTE  []float32 // tile energy under each block
	blockPx  []float32 // pixels in each block
	blockLum []float32 // mean luma of each block
	blockEff []float32 // RMS of the interpolated amplitude over each block
	gradSum  []int32   // per block column, while a block row is summed
	lumSum   []int32
	rowAmp   []float32 // blockAmp interpolated to the current row, per block column
	colBlock []int32   // per pixel column: the block column left of it
	colT     []float32 // and the weight of the one right of it
}

// NewEmbedder prepares the pattern for p.
func NewEmbedder(p Payload, opts ...Option) *Embedder {
	o := makeOptions(opts)
	e := &Embedder{
		payload: p,
		tile:    layoutFor(o.key).tile(p),
		rms:     255 / math.Pow(10, o.psnr/20),
	}
	const nb = tileSize / maskBlock
	e.blockEnergy = make([]float32, nb*nb)
	for y := range tileSize {
		for x := range tileSize {
			v := e.tile[y*tileSize+x]
			e.blockEnergy[(y/maskBlock)*nb+x/maskBlock] += v * v
		}
	}
	// Rounding with a fixed dither (floor(v+u), u uniform in [0,1)) is
	// unbiased, so even changes under half a level survive on average,
	// and it adds frac(v)·(1-frac(v)) of energy, a smooth function of the
	// amplitude that the strength calculation below can account for.
	e.roundNoise = make([]float32, roundMax*roundSteps+1)
	for i := range e.roundNoise {
		a := float64(i) / roundSteps
		var s float64
		n := 0
		for j := 0; j < len(e.tile); j += 5 { // a sample is plenty
			v := a * float64(e.tile[j])
			f := v - math.Floor(v)
			s += f * (1 - f)
			n++
		}
		e.roundNoise[i] = float32(s / float64(n))
	}
	return e
}

const (
	roundSteps = 16
	roundMax   = 16 // amplitudes beyond this round like it
)

// rounding interpolates roundNoise.
func (e *Embedder) rounding(a float32) float32 {
	f := min(max(a*roundSteps, 0), roundMax*roundSteps-1)
	i := int(f)
	t := f - float32(i)
	return e.roundNoise[i]*(1-t) + e.roundNoise[i+1]*t
}

// Payload is the payload this Embedder writes.
func (e *Embedder) Payload() Payload { return e.payload }

// Embed marks img in place: the same small change goes to R, G and B, so
// only luma changes and colours stay. The tile starts at img.Rect.Min.
func (e *Embedder) Embed(img *image.RGBA) {
	if img == nil || img.Rect.Empty() {
		return
	}
	w, h := img.Rect.Dx(), img.Rect.Dy()
	e.resize(w, h)
	e.measure(img)
	e.apply(img, image.Rect(0, 0, w, h))
}

func (e *Embedder) resize(w, h int) {
	if e.w == w && e.h == h {
		return
	}
	bw, bh := (w+maskBlock-1)/maskBlock, (h+maskBlock-1)/maskBlock
	e.w, e.h = w, h
	e.luma = make([]uint8, w*h)
	e.blockAmp = make([]float32, bw*bh)
	e.blockTE = make([]float32, bw*bh)
	e.blockPx = make([]float32, bw*bh)
	e.blockLum = make([]float32, bw*bh)
	e.blockEff = make([]float32, bw*bh)
	e.gradSum = make([]int32, bw)
	e.lumSum = make([]int32, bw)
	e.rowAmp = make([]float32, bw+1)
	// Horizontal interpolation between block centres, fixed per width.
	e.colBlock = make([]int32, w)
	e.colT = make([]float32, w)
	for x := range w {
		fx := (float32(x)+0.5)/maskBlock - 0.5
		switch {
		case fx < 0: // left of the first centre: the first block's amplitude
			e.colBlock[x], e.colT[x] = 0, 0
		case int(fx) >= bw-1: // right of the last centre
			e.colBlock[x], e.colT[x] = int32(bw-1), 0
		default:
			e.colBlock[x], e.colT[x] = int32(fx), fx-float32(int(fx))
		}
	}
}

// measure computes each block's relative amplitude from its texture and
// brightness and scales all of them so the frame's RMS change is e.rms.
func (e *Embedder) measure(img *image.RGBA) {
	w, h := e.w, e.h
	bw, bh := (w+maskBlock-1)/maskBlock, (h+maskBlock-1)/maskBlock
	e.measureBlocks(img, image.Rect(0, 0, bw, bh))
	e.effectiveAmp(bw, bh)
	// The frame's energy after rounding grows monotonically with the
	// common factor k; bisection finds the k that meets the target.
	energy := func(k float32) float64 {
		var s float64
		for i, a := range e.blockEff {
			ka := k * a
			s += float64(ka*ka*e.blockTE[i] + e.blockPx[i]*e.rounding(ka))
		}
		return s / float64(w*h)
	}
	target := e.rms * e.rms
	// The amplitude never needs to exceed a few times the target RMS over
	// the smallest mask: 16 halvings of that bracket are exact enough.
	lo, hi := float32(0), float32(4*e.rms)/(maskMin*lumaMin)
	for range 16 {
		mid := (lo + hi) / 2
		if energy(mid) > target {
			hi = mid
		} else {
			lo = mid
		}
	}
	for i := range e.blockAmp {
		e.blockAmp[i] *= lo
	}
	e.scale = lo
}

// measureBlocks sets the relative amplitude (texture mask × luma mask),
// tile energy and pixel count of the blocks in br (block coordinates).
func (e *Embedder) measureBlocks(img *image.RGBA, br image.Rectangle) {
	w, h := e.w, e.h
	bw := (w + maskBlock - 1) / maskBlock
	x0, x1 := br.Min.X*maskBlock, min(br.Max.X*maskBlock, w)
	y0, y1 := br.Min.Y*maskBlock, min(br.Max.Y*maskBlock, h)
	// One column and row past the blocks, where the frame has them: the
	// gradient at a pixel looks right and down.
	xe := min(x1+1, w)
	// Row by row: luma, and per block column the sums of gradient and
	// luma, turned into the block's floats when a block row is complete.
	// The gradient of row y needs row y+1, so luma runs a row ahead.
	lumaRow := func(y int) {
		row := img.Pix[img.PixOffset(img.Rect.Min.X+x0, img.Rect.Min.Y+y):][:4*(xe-x0)]
		l := e.luma[y*w+x0 : y*w+xe]
		for x := range l {
			p := row[4*x : 4*x+3 : 4*x+3]
			l[x] = uint8((uint32(p[0]) + 2*uint32(p[1]) + uint32(p[2]) + 2) >> 2)
		}
	}
	lumaRow(y0)
	for y := y0; y < y1; y++ {
		if y+1 < h {
			lumaRow(y + 1)
		}
		l := e.luma[y*w : (y+1)*w]
		d := l // the last row has no vertical gradient
		if y+1 < h {
			d = e.luma[(y+1)*w : (y+2)*w]
		}
		if y%maskBlock == 0 {
			clear(e.gradSum)
			clear(e.lumSum)
		}
		for x := x0; x < xe-1; x++ {
			e.gradSum[uint(x)/maskBlock] += absDiff(l[x], l[x+1]) + absDiff(l[x], d[x])
		}
		for x := x0; x < x1; x++ {
			e.lumSum[uint(x)/maskBlock] += int32(l[x])
		}
		if y%maskBlock == maskBlock-1 || y == h-1 {
			by := y / maskBlock
			for bx := br.Min.X; bx < br.Max.X; bx++ {
				e.blockAmp[by*bw+bx] = float32(e.gradSum[bx])
				e.blockLum[by*bw+bx] = float32(e.lumSum[bx])
			}
		}
	}
	const nb = tileSize / maskBlock
	for by := br.Min.Y; by < br.Max.Y; by++ {
		ph := min(maskBlock, h-by*maskBlock)
		for bx := br.Min.X; bx < br.Max.X; bx++ {
			pw := min(maskBlock, w-bx*maskBlock)
			i := by*bw + bx
			n := float32(pw * ph)
			t := textureMask(e.blockAmp[i] / n)
			e.blockAmp[i] = t * lumaMask(e.blockLum[i]/n)
			// The tile's energy under the block (partial blocks at the
			// right and bottom edge pro rata).
			e.blockTE[i] = e.blockEnergy[(by%nb)*nb+bx%nb] * n / (maskBlock * maskBlock)
			e.blockPx[i] = n
		}
	}
}

// effectiveAmp sets blockEff to the RMS of the amplitude that apply's
// interpolation between block centres gives each block's pixels: with a
// mask that changes a lot from block to block it is well below the
// block's own value beside a flat neighbour, and the frame's PSNR would
// otherwise come out above the target, spending less of the budget.
func (e *Embedder) effectiveAmp(bw, bh int) {
	m := interpMoments()
	// For each block row, q[k][k2] = Σ M[j][j2]·A[k][j]·A[k2][j2] over the
	// block's horizontal neighbours j, j2, then the same over the rows.
	// M is tridiagonal (a pixel never mixes the blocks either side of its
	// own), which halves the terms.
	for by := range bh {
		var rows [3][]float32
		for k := range 3 {
			yy := min(max(by+k-1, 0), bh-1)
			rows[k] = e.blockAmp[yy*bw : (yy+1)*bw]
		}
		for bx := range bw {
			xl, xr := max(bx-1, 0), min(bx+1, bw-1)
			var a [3][3]float32
			for k := range 3 {
				a[k] = [3]float32{rows[k][xl], rows[k][bx], rows[k][xr]}
			}
			horiz := func(k, k2 int) float32 {
				u, v := a[k], a[k2]
				return m[0][0]*u[0]*v[0] + m[0][1]*(u[0]*v[1]+u[1]*v[0]) +
					m[1][1]*u[1]*v[1] + m[1][2]*(u[1]*v[2]+u[2]*v[1]) + m[2][2]*u[2]*v[2]
			}
			s := m[0][0]*horiz(0, 0) + 2*m[0][1]*horiz(0, 1) + m[1][1]*horiz(1, 1) +
				2*m[1][2]*horiz(1, 2) + m[2][2]*horiz(2, 2)
			e.blockEff[by*bw+bx] = float32(math.Sqrt(float64(max(s, 0))))
		}
	}
}

// interpMoments is the mean over a block's pixels, along one axis, of
// w·wᵀ, w being the pixel's interpolation weights on the blocks before,
// at and after it.
var interpMoments = sync.OnceValue(func() (m [3][3]float32) {
	for x := range maskBlock {
		var w [3]float32
		f := (float32(x)+0.5)/maskBlock - 0.5 // position relative to the block centre, in blocks
		if f < 0 {
			w[0], w[1] = -f, 1+f
		} else {
			w[1], w[2] = 1-f, f
		}
		for i := range 3 {
			for j := range 3 {
				m[i][j] += w[i] * w[j] / maskBlock
			}
		}
	}
	return m
})

// textureMask is the relative amplitude of a block of mean gradient g.
func textureMask(g float32) float32 {
	return min(max(g/maskRef, maskMin), maskMax)
}

// lumaMask is the factor for a block of mean luma y.
func lumaMask(y float32) float32 {
	switch {
	case y < lumaEdge:
		return lumaMin + (1-lumaMin)*y/lumaEdge
	case y > 255-lumaEdge:
		return lumaMin + (1-lumaMin)*(255-y)/lumaEdge
	}
	return 1
}

func absDiff(a, b uint8) int32 {
	d := int32(a) - int32(b)
	if d < 0 {
		return -d
	}
	return d
}

// apply adds amplitude × tile to every pixel of r (frame coordinates,
// origin at img.Rect.Min), the amplitude interpolated bilinearly between
// block centres.
func (e *Embedder) apply(img *image.RGBA, r image.Rectangle) {
	w, h := e.w, e.h
	bw, bh := (w+maskBlock-1)/maskBlock, (h+maskBlock-1)/maskBlock
	for y := r.Min.Y; y < r.Max.Y; y++ {
		// Vertical interpolation between the block rows around y.
		fy := (float32(y)+0.5)/maskBlock - 0.5
		by0 := int(math.Floor(float64(fy)))
		ty := fy - float32(by0)
		by1 := min(by0+1, bh-1)
		by0 = max(by0, 0)
		r0, r1 := e.blockAmp[by0*bw:(by0+1)*bw], e.blockAmp[by1*bw:(by1+1)*bw]
		for i := range bw {
			e.rowAmp[i] = r0[i] + (r1[i]-r0[i])*ty
		}
		e.rowAmp[bw] = e.rowAmp[bw-1] // so colBlock+1 is always valid
		trow := e.tile[(y&tileMask)*tileSize:][:tileSize]
		drow := ditherTile()[(y&ditherMask)*ditherSize:][:ditherSize]
		row := img.Pix[img.PixOffset(img.Rect.Min.X, img.Rect.Min.Y+y):][:4*w]
		for x := r.Min.X; x < r.Max.X; x++ {
			bx := e.colBlock[x]
			a := e.rowAmp[bx] + (e.rowAmp[bx+1]-e.rowAmp[bx])*e.colT[x]
			// floor(v) as a truncation of v+256, which is positive
			// (|v| is a few levels).
			d := int32(a*trow[x&tileMask]+drow[x&ditherMask]+256) - 256
			p := row[4*x : 4*x+3 : 4*x+3]
			p[0] = clamp8(int32(p[0]) + d)
			p[1] = clamp8(int32(p[1]) + d)
			p[2] = clamp8(int32(p[2]) + d)
		}
	}
}

func clamp8(v int32) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

const (
	ditherSize = 64
	ditherMask = ditherSize - 1
)

// ditherTile is a fixed pattern of offsets uniform in [0,1), so a frame
// marked twice the same way gets the same pixels.
var ditherTile = sync.OnceValue(func() []float32 {
	rng := rand.New(rand.NewPCG(1, 2))
	d := make([]float32, ditherSize*ditherSize)
	for i := range d {
		d[i] = rng.Float32()
	}
	return d
})
