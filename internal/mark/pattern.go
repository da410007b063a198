package mark

import (
	"crypto/sha256"
	"math"
	"math/rand/v2"
	"sync"
)

// The tile: tileSize×tileSize pixels of a frame at its generated size,
// repeated over the whole frame from its top-left corner. It is a grid of
// chipsPerSide² chips, each chipSize pixels wide, each blended smoothly into
// its neighbours (see chipWeight) so the pattern has no sharp steps (H.264
// spends few bits on smooth mid frequencies and keeps them; a half-size copy
// still resolves a 4-pixel chip as 2 pixels).
const (
	tileSize     = 128
	tileMask     = tileSize - 1
	chipSize     = 4
	chipsPerSide = tileSize / chipSize // 32
	numChips     = chipsPerSide * chipsPerSide
	// Each coded bit owns chipsPerBit chips scattered over the tile; the
	// rest are sync chips, whose signs are fixed by the key alone so the
	// detector can find the tile before it knows the payload.
	chipsPerBit = 5
	syncChips   = numChips - codedBits*chipsPerBit // 324
)

// DefaultKey is facesynth's key. A mark made with another key is invisible
// to a detector with this one, so the key is what says "facesynth".
const DefaultKey = "facesynth"

// layout is everything the key fixes: which chips are sync chips, which
// coded bit each other chip carries, and every chip's pseudo-random sign.
type layout struct {
	sign [numChips]float32
	bit  [numChips]int16 // coded bit index, or -1 for a sync chip
	// bitChips lists the chips of each coded bit.
	bitChips [codedBits][chipsPerBit]int16
	// syncRef is the rendered sync chips (message chips zero) and syncSpec
	// its 2D spectrum, conjugated, for the detector's circular correlation.
	syncRef  []float32
	syncSpec []complex128
}

var (
	layoutMu    sync.Mutex
	layoutCache = map[string]*layout{}
)

// layoutFor derives (once per key) the layout from SHA-256 of the key, so
// the same key gives the same pattern in every build and on every machine
// (ChaCha8's stream is fixed by the Go specification of math/rand/v2).
func layoutFor(key string) *layout {
	layoutMu.Lock()
	defer layoutMu.Unlock()
	if l := layoutCache[key]; l != nil {
		return l
	}
	seed := sha256.Sum256([]byte("facesynth watermark v1\x00" + key))
	rng := rand.New(rand.NewChaCha8(seed))
	l := &layout{}
	perm := rng.Perm(numChips)
	for i, c := range perm {
		if i < syncChips {
			l.bit[c] = -1
			continue
		}
		j := i - syncChips
		l.bit[c] = int16(j / chipsPerBit)
		l.bitChips[j/chipsPerBit][j%chipsPerBit] = int16(c)
	}
	for c := range l.sign {
		l.sign[c] = 1
		if rng.IntN(2) == 0 {
			l.sign[c] = -1
		}
	}
	chips := make([]float32, numChips)
	for c := range chips {
		if l.bit[c] < 0 {
			chips[c] = l.sign[c]
		}
	}
	l.syncRef = render(chips)
	spec := make([]complex128, tileSize*tileSize)
	for i, v := range l.syncRef {
		spec[i] = complex(float64(v), 0)
	}
	tileFFT().transform2D(spec, false)
	for i, v := range spec {
		spec[i] = complex(real(v), -imag(v))
	}
	l.syncSpec = spec
	layoutCache[key] = l
	return l
}

var tileFFT = sync.OnceValue(func() *fft { return newFFT(tileSize) })

// tile renders the full pattern for a payload, scaled to unit RMS.
func (l *layout) tile(p Payload) []float32 {
	coded := convolve(p.message())
	chips := make([]float32, numChips)
	for c := range chips {
		chips[c] = l.sign[c]
		if b := l.bit[c]; b >= 0 && coded[b] == 0 {
			chips[c] = -chips[c]
		}
	}
	t := render(chips)
	var ss float64
	for _, v := range t {
		ss += float64(v) * float64(v)
	}
	k := float32(1 / math.Sqrt(ss/float64(len(t))))
	for i := range t {
		t[i] *= k
	}
	return t
}

// chipWeight is the share of a chip in a pixel at distance d (in chip
// pitches) from the chip's centre, along one axis; a pixel takes the chips
// on either side of it, and the weights of the two, w(d) and w(1-d), have
// squares that add up to 1.
//
// That last property is what keeps the mark from looking like a grid. With
// bilinear weights (1-d and d), which version 1 used, a pixel at a chip's
// centre carries that chip's full ±1 while a pixel where four chips meet
// carries their average, whose variance is a quarter: the grain's strength
// rose and fell on the 4-pixel lattice, and the eye, which sees a pattern's
// local contrast, saw a fixed grid even where the grain itself was faint.
// Measured on real frames, the mark's mean square at the 16 positions
// within a chip varied by 0.74 of its mean; with these weights, 0.06 (see
// gridModulation in the tests). The smoothstep inside the cosine gives
// every chip zero slope at its centre and at its neighbours' centres, so
// there are no creases either. Detection is as good as with bilinear chips
// (the overlap of neighbouring chips is about the same).
func chipWeight(d float64) float64 {
	u := min(math.Abs(d), 1)
	s := u * u * (3 - 2*u)
	return math.Cos(math.Pi / 2 * s)
}

// axisTap is, for one pixel index along a tile axis, the two chips that
// cover it and their weights.
type axisTap struct {
	chip [2]int
	w    [2]float32
}

// axisTaps is the axisTap of every pixel index along a tile axis: the same
// for rows and columns, for rendering the tile and for reading chips back.
var axisTaps = sync.OnceValue(func() []axisTap {
	taps := make([]axisTap, tileSize)
	for x := range tileSize {
		f := (float64(x)+0.5)/chipSize - 0.5 // in chip pitches from chip 0's centre
		i := int(math.Floor(f))
		taps[x] = axisTap{
			chip: [2]int{(i + chipsPerSide) % chipsPerSide, (i + 1) % chipsPerSide},
			w:    [2]float32{float32(chipWeight(f - float64(i))), float32(chipWeight(float64(i+1) - f))},
		}
	}
	return taps
})

// render blends chip values (row-major chipsPerSide²) into a tileSize²
// pixel tile that wraps around.
func render(chips []float32) []float32 {
	taps := axisTaps()
	out := make([]float32, tileSize*tileSize)
	for y := range tileSize {
		ty := taps[y]
		r0, r1 := chips[ty.chip[0]*chipsPerSide:][:chipsPerSide], chips[ty.chip[1]*chipsPerSide:][:chipsPerSide]
		for x := range tileSize {
			tx := taps[x]
			top := r0[tx.chip[0]]*tx.w[0] + r0[tx.chip[1]]*tx.w[1]
			bot := r1[tx.chip[0]]*tx.w[0] + r1[tx.chip[1]]*tx.w[1]
			out[y*tileSize+x] = top*ty.w[0] + bot*ty.w[1]
		}
	}
	return out
}
