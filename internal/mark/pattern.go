package mark

import (
	"crypto/sha256"
	"math"
	"math/rand/v2"
	"sync"
)

// The tile: tileSize×tileSize pixels of a frame at its generated size,
// repeated over the whole frame from its top-left corner. It is a grid of
// chipsPerSide² chips, each chipSize pixels wide, joined by bilinear
// interpolation so the pattern has no sharp steps (H.264 spends few bits on
// smooth mid frequencies and keeps them; a half-size copy still resolves a
// 4-pixel chip as 2 pixels).
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

// chipAxis maps a pixel index along one axis of the tile to the two chips
// whose centres surround it and the weight of the second.
func chipAxis(x int) (c0, c1 int, t float32) {
	f := (float32(x)+0.5)/chipSize - 0.5
	i := int(math.Floor(float64(f)))
	t = f - float32(i)
	return (i + chipsPerSide) % chipsPerSide, (i + 1) % chipsPerSide, t
}

// render interpolates chip values (row-major chipsPerSide²) bilinearly
// between chip centres into a tileSize² pixel tile that wraps around.
func render(chips []float32) []float32 {
	out := make([]float32, tileSize*tileSize)
	for y := range tileSize {
		r0, r1, ty := chipAxis(y)
		for x := range tileSize {
			c0, c1, tx := chipAxis(x)
			top := chips[r0*chipsPerSide+c0]*(1-tx) + chips[r0*chipsPerSide+c1]*tx
			bot := chips[r1*chipsPerSide+c0]*(1-tx) + chips[r1*chipsPerSide+c1]*tx
			out[y*tileSize+x] = top*(1-ty) + bot*ty
		}
	}
	return out
}
