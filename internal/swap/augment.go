package swap

import (
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/facesynth/facesynth/internal/align"
	"github.com/facesynth/facesynth/internal/face"
)

// Augment is the random distortion of training faces. Each face gets a
// random similarity (rotation, scale, shift, horizontal flip) applied to
// input and target alike, and on top of it, on the input only, a smooth
// random warp: the network learns to undo the warp, which is what lets a
// decoder draw its own identity over another face's expression and pose.
type Augment struct {
	RotateDeg float64 `json:"rotate_deg"` // rotation uniform in ±RotateDeg degrees
	Scale     float64 `json:"scale"`      // scale uniform in 1 ± Scale
	Shift     float64 `json:"shift"`      // shift uniform in ±Shift of the size, per axis
	Flip      bool    `json:"flip"`       // mirror half the faces
	// Warp is the standard deviation of the warp's control-point jitter as
	// a fraction of the size. DeepFakes jittered a 5×5 grid over the
	// central 160 px of a 256 px face by σ = 5 px and resized that region
	// to 64 px: 5/160 = 0.031 of the face.
	Warp float64 `json:"warp"`
}

// DefaultAugment is DeepFakes' augmentation (random_transform and
// random_warp of the 2017 release).
var DefaultAugment = Augment{RotateDeg: 10, Scale: 0.05, Shift: 0.05, Flip: true, Warp: 0.03}

// warpGrid is the number of control points per axis of the random warp.
const warpGrid = 5

// sample is one augmented face in model layout: planar float32 in [0, 1].
type sample struct {
	input  []float32 // 3·S·S, warped
	target []float32 // 3·S·S, not warped
	mask   []float32 // S·S, the target's hull mask
}

// augment fills out with a randomly distorted copy of face i of set.
func (a Augment) augment(rng *rand.Rand, rgb, mask []uint8, size int, out sample) {
	s := float64(size)
	c := (s - 1) / 2
	// The similarity, as a map from output pixels to source pixels:
	// un-flip, un-shift, un-rotate and un-scale about the centre.
	theta := (rng.Float64()*2 - 1) * a.RotateDeg * math.Pi / 180
	scale := 1 + (rng.Float64()*2-1)*a.Scale
	tx, ty := (rng.Float64()*2-1)*a.Shift*s, (rng.Float64()*2-1)*a.Shift*s
	flip := a.Flip && rng.IntN(2) == 1
	cos, sin := math.Cos(theta)/scale, math.Sin(theta)/scale
	toSource := func(x, y float64) (float64, float64) {
		if flip {
			x = s - 1 - x
		}
		x, y = x-c-tx, y-c-ty
		return cos*x + sin*y + c, -sin*x + cos*y + c
	}

	// The warp: a 5×5 grid of control points over the face, each jittered
	// by a normal offset, interpolated smoothly in between.
	var dx, dy [warpGrid][warpGrid]float64
	var regular, jittered []face.Point
	step := (s - 1) / (warpGrid - 1)
	for j := range warpGrid {
		for i := range warpGrid {
			dx[j][i], dy[j][i] = rng.NormFloat64()*a.Warp*s, rng.NormFloat64()*a.Warp*s
			p := face.Point{X: float64(i) * step, Y: float64(j) * step}
			regular = append(regular, p)
			jittered = append(jittered, face.Point{X: p.X + dx[j][i], Y: p.Y + dy[j][i]})
		}
	}
	// The target follows only the warp's best-fit similarity (as DeepFakes'
	// umeyama of the jittered grid did): the rigid part of the jitter is
	// not something the network could see in its input and undo, so the
	// target must not contain it.
	rigid := align.Umeyama(regular, jittered)
	if !rigid.Valid() {
		rigid = align.Identity
	}

	n := size * size
	for y := 0; y < size; y++ {
		gy := float64(y) / step
		for x := 0; x < size; x++ {
			gx := float64(x) / step
			wx, wy := float64(x)+bicubicGrid(&dx, gx, gy), float64(y)+bicubicGrid(&dy, gx, gy)
			sx, sy := toSource(wx, wy)
			o := y*size + x
			bilinearRGB(rgb, size, sx, sy, out.input[o:], n)
			p := rigid.Apply(face.Point{X: float64(x), Y: float64(y)})
			sx, sy = toSource(p.X, p.Y)
			bilinearRGB(rgb, size, sx, sy, out.target[o:], n)
			out.mask[o] = bilinearGray(mask, size, sx, sy)
		}
	}
}

// bicubicGrid interpolates a control-point grid at grid coordinates (gx,
// gy) with Catmull-Rom splines: smooth, and equal to the control values at
// the control points.
func bicubicGrid(g *[warpGrid][warpGrid]float64, gx, gy float64) float64 {
	ix, iy := int(math.Floor(gx)), int(math.Floor(gy))
	ix, iy = min(max(ix, 0), warpGrid-2), min(max(iy, 0), warpGrid-2)
	fx, fy := gx-float64(ix), gy-float64(iy)
	at := func(j, i int) float64 {
		return g[min(max(j, 0), warpGrid-1)][min(max(i, 0), warpGrid-1)]
	}
	var rows [4]float64
	for k := range 4 {
		j := iy - 1 + k
		rows[k] = catmullRom(at(j, ix-1), at(j, ix), at(j, ix+1), at(j, ix+2), fx)
	}
	return catmullRom(rows[0], rows[1], rows[2], rows[3], fy)
}

func catmullRom(p0, p1, p2, p3, t float64) float64 {
	return p1 + 0.5*t*(p2-p0+t*(2*p0-5*p1+4*p2-p3+t*(3*(p1-p2)+p3-p0)))
}

// bilinearRGB samples interleaved 8-bit RGB at (x, y), clamping to the
// border, and writes the three channels planar (stride n) scaled to [0, 1].
func bilinearRGB(px []uint8, size int, x, y float64, out []float32, n int) {
	x0, y0, fx, fy := taps(x, size), taps(y, size), frac(x, size), frac(y, size)
	x1, y1 := min(x0+1, size-1), min(y0+1, size-1)
	w00, w01, w10, w11 := (1-fx)*(1-fy), fx*(1-fy), (1-fx)*fy, fx*fy
	i00, i01, i10, i11 := (y0*size+x0)*3, (y0*size+x1)*3, (y1*size+x0)*3, (y1*size+x1)*3
	for c := 0; c < 3; c++ {
		v := w00*float64(px[i00+c]) + w01*float64(px[i01+c]) + w10*float64(px[i10+c]) + w11*float64(px[i11+c])
		out[c*n] = float32(v / 255)
	}
}

func bilinearGray(px []uint8, size int, x, y float64) float32 {
	x0, y0, fx, fy := taps(x, size), taps(y, size), frac(x, size), frac(y, size)
	x1, y1 := min(x0+1, size-1), min(y0+1, size-1)
	v := (1-fx)*(1-fy)*float64(px[y0*size+x0]) + fx*(1-fy)*float64(px[y0*size+x1]) +
		(1-fx)*fy*float64(px[y1*size+x0]) + fx*fy*float64(px[y1*size+x1])
	return float32(v / 255)
}

// taps is the left neighbour of coordinate v, clamped into the image;
// frac is v's weight toward the right neighbour (0 outside the image, so
// the border pixel repeats).
func taps(v float64, size int) int {
	if !(v > 0) { // also NaN
		return 0
	}
	return min(int(v), size-1)
}

func frac(v float64, size int) float64 {
	if !(v > 0) || v >= float64(size-1) {
		return 0
	}
	return v - math.Floor(v)
}

// batch is a training batch of one side in model layout.
type batch struct {
	input, target []float32 // N·3·S·S
	mask          []float32 // N·S·S
	maskSum       float64   // Σ mask, the face loss's normaliser
}

func newBatch(n, size int) *batch {
	return &batch{input: make([]float32, n*3*size*size), target: make([]float32, n*3*size*size),
		mask: make([]float32, n*size*size)}
}

// fill draws batch-size random faces of set and augments them. The faces
// and distortions of a step depend only on (seed, side, step), so a resumed
// run draws exactly the batches the uninterrupted run would have.
func (b *batch) fill(set *FaceSet, aug Augment, seed uint64, side Side, step int) {
	size := set.Size
	n := len(b.mask) / (size * size)
	pick := rand.New(rand.NewPCG(seed, uint64(side)<<56|uint64(step)))
	idx := make([]int, n)
	for i := range idx {
		idx[i] = pick.IntN(set.Len())
	}
	per := 3 * size * size
	var wg sync.WaitGroup
	workers := min(runtime.GOMAXPROCS(0), n)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				rng := rand.New(rand.NewPCG(seed^0x9e3779b97f4a7c15, uint64(side)<<56|uint64(step)<<16|uint64(i)))
				k := idx[i]
				aug.augment(rng, set.RGB[k], set.Mask[k], size, sample{
					input:  b.input[i*per : (i+1)*per],
					target: b.target[i*per : (i+1)*per],
					mask:   b.mask[i*size*size : (i+1)*size*size],
				})
			}
		}()
	}
	wg.Wait()
	var sum float64
	for _, v := range b.mask {
		sum += float64(v)
	}
	b.maskSum = sum
}
