package blend

import (
	"fmt"
	"image"
	"math"
	"strings"
	"sync"
)

// ColorMode picks how MatchColor makes a generated face take the colours of
// the face it replaces.
type ColorMode int

const (
	// None leaves the colours alone.
	None ColorMode = iota
	// Reinhard moves the mean and standard deviation of each CIE Lab channel
	// onto the reference's (Reinhard et al., "Color Transfer between
	// Images", 2001, done in Lab rather than lαβ). It shifts lighting and
	// skin tone but keeps the source's own shading, and its statistics can
	// be smoothed over frames (Stats, ApplyReinhard).
	Reinhard
	// Histogram maps each RGB channel through the curve that gives it the
	// reference's histogram (cumulative distribution matching). It follows
	// non-linear differences (contrast curves, clipped highlights) that
	// mean and deviation miss, but it flickers more from frame to frame.
	Histogram
)

var colorModeNames = [...]string{None: "none", Reinhard: "reinhard", Histogram: "histogram"}

// String is the mode's name as ParseColorMode reads it.
func (m ColorMode) String() string {
	if m >= 0 && int(m) < len(colorModeNames) {
		return colorModeNames[m]
	}
	return fmt.Sprintf("ColorMode(%d)", int(m))
}

// ParseColorMode reads a mode name: "none", "reinhard" (or "rct", as
// DeepFaceLab calls it) or "histogram" (or "hist"), in any case.
func ParseColorMode(s string) (ColorMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "none":
		return None, nil
	case "reinhard", "rct":
		return Reinhard, nil
	case "histogram", "hist":
		return Histogram, nil
	}
	return None, fmt.Errorf("blend: unknown colour mode %q (want none, reinhard or histogram)", s)
}

// MatchColor returns src recoloured so that, inside mask, its colours match
// ref's inside the same mask. src, ref and mask (nil: everywhere) must have
// the same size; the whole of src is recoloured, so that the blend's
// feathered edge sees the same colours as the inside. An empty mask (or
// fully transparent pixels under it) leaves src's colours as they are.
func MatchColor(src, ref *image.RGBA, mask *image.Gray, mode ColorMode) (*image.RGBA, error) {
	if err := sameSize([]string{"src", "ref"}, src, ref); err != nil {
		return nil, err
	}
	if err := checkMask(src, "src", mask); err != nil {
		return nil, err
	}
	switch mode {
	case None:
		return cloneRGBA(src), nil
	case Reinhard:
		from, to := Stats(src, mask), Stats(ref, mask)
		if from.Weight == 0 || to.Weight == 0 {
			return cloneRGBA(src), nil
		}
		return ApplyReinhard(src, from, to), nil
	case Histogram:
		return matchHistogram(src, ref, mask), nil
	}
	return nil, fmt.Errorf("blend: unknown colour mode %d", int(mode))
}

// LabStats are the mask-weighted mean and standard deviation of an image's
// L, a and b channels. Weight is the total weight in pixels (a pixel under
// mask 255 and alpha 255 counts 1); zero means nothing was counted and
// Mean and Std are zero.
type LabStats struct {
	Mean, Std [3]float64
	Weight    float64
}

// Lerp moves s toward o by t (0 keeps s, 1 gives o): the step of an
// exponential moving average, for smoothing statistics over frames so that
// the colour correction does not flicker.
func (s LabStats) Lerp(o LabStats, t float64) LabStats {
	var out LabStats
	for c := range 3 {
		out.Mean[c] = s.Mean[c] + t*(o.Mean[c]-s.Mean[c])
		out.Std[c] = s.Std[c] + t*(o.Std[c]-s.Std[c])
	}
	out.Weight = s.Weight + t*(o.Weight-s.Weight)
	return out
}

// Stats measures img's Lab statistics, each pixel weighted by the mask
// (nil: everywhere) and by its alpha. A mask of another size than img, or
// a nil img, gives the zero LabStats.
func Stats(img *image.RGBA, mask *image.Gray) LabStats {
	if img == nil || checkMask(img, "img", mask) != nil {
		return LabStats{}
	}
	initTables()
	w, h := img.Rect.Dx(), img.Rect.Dy()
	type sums struct {
		w    float64
		m, q [3]float64
	}
	var (
		mu    sync.Mutex
		total sums
	)
	parallel(h, w, func(y0, y1 int) {
		var s sums
		for y := y0; y < y1; y++ {
			row, mrow := rowRGBA(img, y), rowGray(mask, y)
			for x := 0; x < w; x++ {
				p := row[4*x : 4*x+4 : 4*x+4]
				m := uint32(255)
				if mrow != nil {
					m = uint32(mrow[x])
				}
				if m == 0 || p[3] == 0 {
					continue
				}
				r, g, b := p[0], p[1], p[2]
				if p[3] != 255 {
					r, g, b = unpremultiply(r, g, b, p[3])
				}
				// float64 sums: the variance is E[v²] − E[v]², which in
				// float32 loses the spread of a near-uniform patch.
				wt := float64(m*uint32(p[3])) / (255 * 255)
				l, a, bb := toLab(r, g, b)
				v := [3]float64{float64(l), float64(a), float64(bb)}
				s.w += wt
				for c := range 3 {
					s.m[c] += wt * v[c]
					s.q[c] += wt * v[c] * v[c]
				}
			}
		}
		mu.Lock()
		total.w += s.w
		for c := range 3 {
			total.m[c] += s.m[c]
			total.q[c] += s.q[c]
		}
		mu.Unlock()
	})
	var st LabStats
	st.Weight = total.w
	if st.Weight <= 0 {
		return LabStats{}
	}
	for c := range 3 {
		mean := total.m[c] / st.Weight
		st.Mean[c] = mean
		st.Std[c] = math.Sqrt(math.Max(0, total.q[c]/st.Weight-mean*mean))
	}
	return st
}

// maxStdRatio bounds how much ApplyReinhard may stretch or squeeze a
// channel's spread: a nearly flat generated face (an untrained model's grey
// blob) would otherwise be blown up into noise, and a flat reference (a
// face in deep shadow) would flatten the face to a mask.
const maxStdRatio = 4

// ApplyReinhard returns src with every pixel's Lab colour moved from the
// statistics from to the statistics to: (v − from.Mean)·to.Std/from.Std +
// to.Mean per channel, the ratio kept within 1/4..4 (1 when from.Std is 0).
// Only Mean and Std are read, so from and to may be smoothed over frames.
// Transparent pixels stay transparent; partly transparent ones are
// recoloured as their unpremultiplied colour.
func ApplyReinhard(src *image.RGBA, from, to LabStats) *image.RGBA {
	if src == nil {
		return image.NewRGBA(image.Rectangle{})
	}
	initTables()
	var scale, shift [3]float32
	for c := range 3 {
		k := 1.0
		if from.Std[c] > 1e-9 {
			k = math.Max(1.0/maxStdRatio, math.Min(maxStdRatio, to.Std[c]/from.Std[c]))
		}
		scale[c] = float32(k)
		shift[c] = float32(to.Mean[c] - k*from.Mean[c])
	}
	w, h := src.Rect.Dx(), src.Rect.Dy()
	out := image.NewRGBA(src.Rect)
	parallel(h, w, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			in, o := rowRGBA(src, y), rowRGBA(out, y)
			for x := 0; x < w; x++ {
				p := in[4*x : 4*x+4 : 4*x+4]
				q := o[4*x : 4*x+4 : 4*x+4]
				a := p[3]
				if a == 0 {
					continue
				}
				r, g, b := p[0], p[1], p[2]
				if a != 255 {
					r, g, b = unpremultiply(r, g, b, a)
				}
				l, la, lb := toLab(r, g, b)
				r, g, b = fromLab(l*scale[0]+shift[0], la*scale[1]+shift[1], lb*scale[2]+shift[2])
				if a != 255 {
					r, g, b = premultiply(r, g, b, a)
				}
				q[0], q[1], q[2], q[3] = r, g, b, a
			}
		}
	})
	return out
}

// matchHistogram maps each RGB channel of src through the monotone curve
// that carries src's mask-weighted distribution onto ref's. Both
// distributions are treated as continuous (each level's mass spread evenly
// over its width), so the curve is smooth and maps a level to the middle of
// where its mass lands rather than snapping to the nearest occupied level.
func matchHistogram(src, ref *image.RGBA, mask *image.Gray) *image.RGBA {
	hs, ws := histograms(src, mask)
	hr, wr := histograms(ref, mask)
	if ws == 0 || wr == 0 {
		return cloneRGBA(src)
	}
	var lut [3][256]uint8
	for c := range 3 {
		lut[c] = transferCurve(&hs[c], &hr[c])
	}
	w, h := src.Rect.Dx(), src.Rect.Dy()
	out := image.NewRGBA(src.Rect)
	parallel(h, w, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			in, o := rowRGBA(src, y), rowRGBA(out, y)
			for x := 0; x < w; x++ {
				p := in[4*x : 4*x+4 : 4*x+4]
				q := o[4*x : 4*x+4 : 4*x+4]
				a := p[3]
				switch a {
				case 0:
				case 255:
					q[0], q[1], q[2], q[3] = lut[0][p[0]], lut[1][p[1]], lut[2][p[2]], 255
				default:
					r, g, b := unpremultiply(p[0], p[1], p[2], a)
					r, g, b = premultiply(lut[0][r], lut[1][g], lut[2][b], a)
					q[0], q[1], q[2], q[3] = r, g, b, a
				}
			}
		}
	})
	return out
}

// histograms counts each channel's unpremultiplied levels, weighted by
// mask·alpha, and returns the total weight.
func histograms(img *image.RGBA, mask *image.Gray) ([3][256]float64, float64) {
	var hist [3][256]float64
	var total float64
	w, h := img.Rect.Dx(), img.Rect.Dy()
	for y := 0; y < h; y++ {
		row, mrow := rowRGBA(img, y), rowGray(mask, y)
		for x := 0; x < w; x++ {
			p := row[4*x : 4*x+4 : 4*x+4]
			m := uint32(255)
			if mrow != nil {
				m = uint32(mrow[x])
			}
			if m == 0 || p[3] == 0 {
				continue
			}
			r, g, b := p[0], p[1], p[2]
			if p[3] != 255 {
				r, g, b = unpremultiply(r, g, b, p[3])
			}
			wt := float64(m * uint32(p[3]))
			hist[0][r] += wt
			hist[1][g] += wt
			hist[2][b] += wt
			total += wt
		}
	}
	return hist, total
}

// transferCurve maps each level v of the source distribution to the level
// at which the reference's cumulative distribution reaches the source's
// cumulative mass at the middle of v. Levels outside the range the source
// occupies under the mask (hair, background: the whole crop is recoloured)
// continue the curve's ends with slope 1 instead of all collapsing onto the
// reference's extreme levels.
func transferCurve(src, ref *[256]float64) [256]uint8 {
	var cs, cr [257]float64 // cs[v] is the mass below level v
	lo, hi := -1, -1
	for v := range 256 {
		cs[v+1] = cs[v] + src[v]
		cr[v+1] = cr[v] + ref[v]
		if src[v] > 0 {
			if lo < 0 {
				lo = v
			}
			hi = v
		}
	}
	var curve [256]float64
	u := 0
	for v := lo; v <= hi; v++ {
		target := (cs[v] + cs[v+1]) / 2 / cs[256] * cr[256]
		// The first occupied reference level whose upper cumulative mass
		// reaches the target; empty levels hold no mass to land in.
		for u < 255 && (cr[u+1] < target || ref[u] == 0) {
			u++
		}
		// Level u spans [u-0.5, u+0.5] and holds ref[u] of the mass.
		curve[v] = float64(u)
		if ref[u] > 0 {
			curve[v] = float64(u) - 0.5 + (target-cr[u])/ref[u]
		}
	}
	for v := 0; v < lo; v++ {
		curve[v] = curve[lo] - float64(lo-v)
	}
	for v := hi + 1; v < 256; v++ {
		curve[v] = curve[hi] + float64(v-hi)
	}
	var lut [256]uint8
	for v, c := range curve {
		lut[v] = uint8(math.Round(math.Max(0, math.Min(255, c))))
	}
	return lut
}
