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

// Perceptual masking works on blocks of maskBlock² pixels: a block's
// amplitude follows the square root of its mean gradient (noise hides in
// texture, shows on flat skin and sky), between maskMin and maskMax times
// the frame's base amplitude, and is interpolated between block centres so
// no block edge appears.
const maskBlock = 8

var (
	maskMin   float32 = 0.85
	maskMax   float32 = 1.25
	maskGamma         = 0.5
	maskRef   float32 = 4.0 // mean |gradient| (levels) that gets the base amplitude
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
	luma     []uint8
	blockAmp []float32 // per block, then scaled in place
	blockTE  []float32 // tile energy under each block
	blockPx  []float32 // pixels in each block
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
	e.apply(img)
}

func (e *Embedder) resize(w, h int) {
	if e.w == w && e.h == h {
		return
	}
	bw, bh := (w+maskBlock-1)/maskBlock, (h+maskBlock-1)/maskBlock
	e.w, e.h = w, h
	e.luma = make([]uint8, w*h)
	e.blockAmp = make([]float32, bw*bh)
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
// scales all of them so the frame's RMS change is e.rms.
func (e *Embedder) measure(img *image.RGBA) {
	w, h := e.w, e.h
	bw := (w + maskBlock - 1) / maskBlock
	for y := range h {
		row := img.Pix[img.PixOffset(img.Rect.Min.X, img.Rect.Min.Y+y):][:4*w]
		l := e.luma[y*w : (y+1)*w]
		for x := range l {
			p := row[4*x : 4*x+3 : 4*x+3]
			l[x] = uint8((uint32(p[0]) + 2*uint32(p[1]) + uint32(p[2]) + 2) >> 2)
		}
	}
	for i := range e.blockAmp {
		e.blockAmp[i] = 0
	}
	for y := range h - 1 {
		l, d := e.luma[y*w:(y+1)*w], e.luma[(y+1)*w:(y+2)*w]
		brow := e.blockAmp[(y/maskBlock)*bw:]
		for x := range w - 1 {
			g := absDiff(l[x], l[x+1]) + absDiff(l[x], d[x])
			brow[uint(x)/maskBlock] += float32(g)
		}
	}
	const nb = tileSize / maskBlock
	bh := (h + maskBlock - 1) / maskBlock
	if len(e.blockTE) != len(e.blockAmp) {
		e.blockTE = make([]float32, len(e.blockAmp))
		e.blockPx = make([]float32, len(e.blockAmp))
	}
	for by := range bh {
		ph := min(maskBlock, h-by*maskBlock)
		for bx := range bw {
			pw := min(maskBlock, w-bx*maskBlock)
			mean := e.blockAmp[by*bw+bx] / float32(pw*ph)
			a := float32(math.Pow(float64(mean/maskRef), maskGamma))
			e.blockAmp[by*bw+bx] = min(max(a, maskMin), maskMax)
			// The tile's energy under the block (partial blocks at the
			// right and bottom edge pro rata).
			e.blockTE[by*bw+bx] = e.blockEnergy[(by%nb)*nb+bx%nb] * float32(pw*ph) / (maskBlock * maskBlock)
			e.blockPx[by*bw+bx] = float32(pw * ph)
		}
	}
	// The frame's energy after rounding grows monotonically with the
	// common factor k; bisection finds the k that meets the target.
	energy := func(k float32) float64 {
		var s float64
		for i, a := range e.blockAmp {
			ka := k * a
			s += float64(ka*ka*e.blockTE[i] + e.blockPx[i]*e.rounding(ka))
		}
		return s / float64(w*h)
	}
	target := e.rms * e.rms
	// The amplitude never needs to exceed a few times the target RMS over
	// the smallest mask: 16 halvings of that bracket are exact enough.
	lo, hi := float32(0), float32(4*e.rms)/maskMin
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
}

func absDiff(a, b uint8) int32 {
	d := int32(a) - int32(b)
	if d < 0 {
		return -d
	}
	return d
}

// apply adds amplitude × tile to every pixel, the amplitude interpolated
// bilinearly between block centres.
func (e *Embedder) apply(img *image.RGBA) {
	w, h := e.w, e.h
	bw, bh := (w+maskBlock-1)/maskBlock, (h+maskBlock-1)/maskBlock
	for y := range h {
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
		for x := range w {
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
