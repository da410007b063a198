package blend

import (
	"image"
	"math"
)

// Masks are 8-bit weights. The morphology here treats everything beyond a
// mask's edge as 0: a mask weighs a crop, and a crop paints nothing beyond
// its own edge, so an eroded or feathered mask fades out before the crop
// edge instead of ending in a hard cut there.

// Erode shrinks a mask by r pixels: every pixel takes the smallest value
// within a disc of radius r (the pixels at dx²+dy² ≤ r²+r, the digital disc
// closest to a Euclidean one, so a diagonal edge moves by r as a straight one
// does). A soft edge keeps its profile and moves inward. r ≤ 0 gives a copy.
func Erode(m *image.Gray, r int) *image.Gray { return morph(m, r, true) }

// Dilate grows a mask by r pixels, Erode's counterpart: every pixel takes the
// largest value within the same disc.
func Dilate(m *image.Gray, r int) *image.Gray { return morph(m, r, false) }

// morph is grey-level erosion (min) or dilation (max) over a disc. The disc
// is a stack of horizontal chords, one per row offset dy, with half-widths
// that take at most r+1 distinct values; each distinct chord is a running
// min/max along rows (van Herk–Gil–Werman, three comparisons a pixel
// whatever its length), and the output combines 2r+1 of those rows. That is
// O(r) a pixel instead of the O(r²) of visiting the disc.
func morph(m *image.Gray, r int, erode bool) *image.Gray {
	if m == nil || m.Rect.Empty() || r <= 0 {
		return cloneGray(m)
	}
	// A disc wider than the whole mask's diagonal reaches as far as one
	// that just covers it; capping r keeps the work bounded.
	r = min(r, m.Rect.Dx()+m.Rect.Dy())
	out := image.NewGray(m.Rect)
	// Only the part of the mask that is not 0, grown by r when dilating,
	// can come out non-zero, and the zeros around it are exactly what the
	// padding beyond an edge supplies: working on that part alone gives
	// the same result. A face hull covers about half its crop.
	area := support(m)
	if !erode {
		area = area.Inset(-r).Intersect(image.Rect(0, 0, m.Rect.Dx(), m.Rect.Dy()))
	}
	if !area.Empty() {
		morphInto(view(out, area), view(m, area), r, erode)
	}
	return out
}

// support is the bounding box of m's non-zero pixels, relative to
// m.Rect.Min; empty when all are 0.
func support(m *image.Gray) image.Rectangle {
	var box image.Rectangle
	for y := 0; y < m.Rect.Dy(); y++ {
		row := rowGray(m, y)
		x0 := -1
		for x, v := range row {
			if v != 0 {
				x0 = x
				break
			}
		}
		if x0 < 0 {
			continue
		}
		x1 := len(row)
		for row[x1-1] == 0 {
			x1--
		}
		box = box.Union(image.Rect(x0, y, x1, y+1))
	}
	return box
}

// view is the part r (relative to m.Rect.Min) of m, sharing its pixels.
func view(m *image.Gray, r image.Rectangle) *image.Gray {
	return m.SubImage(r.Add(m.Rect.Min)).(*image.Gray)
}

// morphInto erodes or dilates m into out, of the same size.
func morphInto(out, m *image.Gray, r int, erode bool) {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	half := make([]int, r+1) // chord half-width at row offset |dy|
	for dy := range half {
		half[dy] = int(math.Sqrt(float64(r*r + r - dy*dy)))
	}
	// chords[k] holds the rows filtered with half-width k, for each
	// half-width the disc uses.
	chords := make(map[int][]uint8, r+1)
	for _, k := range half {
		if chords[k] == nil {
			chords[k] = make([]uint8, w*h)
		}
	}
	for k, plane := range chords {
		parallel(h, w, func(y0, y1 int) {
			scratch := newExtremeScratch(w, k)
			for y := y0; y < y1; y++ {
				scratch.run(plane[y*w:(y+1)*w], rowGray(m, y), erode)
			}
		})
	}
	parallel(h, w, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			o := rowGray(out, y)
			if erode && (y < r || y >= h-r) {
				// Part of the disc lies beyond the top or bottom edge,
				// where the mask is 0.
				clear(o)
				continue
			}
			copy(o, chords[half[0]][y*w:(y+1)*w])
			for dy := 1; dy <= r; dy++ {
				plane := chords[half[dy]]
				for _, yy := range [2]int{y - dy, y + dy} {
					if yy < 0 || yy >= h {
						continue // only reachable when dilating: 0 changes nothing
					}
					row := plane[yy*w : (yy+1)*w : (yy+1)*w]
					if erode {
						for x, v := range row {
							o[x] = min(o[x], v)
						}
					} else {
						for x, v := range row {
							o[x] = max(o[x], v)
						}
					}
				}
			}
		}
	})
}

// extremeScratch computes running minima or maxima over windows [x-k, x+k]
// of a row, with zeros beyond the row's ends (van Herk–Gil–Werman). The
// zero-padded row is cut into blocks of 2k+1: head runs forward within each
// block and tail backward, and any window of 2k+1 is the union of the tail
// of one block and the head of the next.
type extremeScratch struct {
	k                  int
	padded, head, tail []uint8
}

func newExtremeScratch(w, k int) *extremeScratch {
	n := w + 2*k
	return &extremeScratch{k: k, padded: make([]uint8, n), head: make([]uint8, n), tail: make([]uint8, n)}
}

// run writes the running min (erode) or max of src into dst.
func (s *extremeScratch) run(dst, src []uint8, erode bool) {
	k := s.k
	if k == 0 {
		copy(dst, src)
		return
	}
	copy(s.padded[k:], src) // the k cells at each end stay 0
	p, g, t := s.padded, s.head, s.tail
	n, b := len(p), 2*k+1
	for start := 0; start < n; start += b {
		end := min(start+b, n)
		pb, gb, tb := p[start:end], g[start:end], t[start:end]
		gb[0] = pb[0]
		tb[len(tb)-1] = pb[len(pb)-1]
		if erode {
			for i := 1; i < len(pb); i++ {
				gb[i] = min(gb[i-1], pb[i])
			}
			for i := len(pb) - 2; i >= 0; i-- {
				tb[i] = min(tb[i+1], pb[i])
			}
		} else {
			for i := 1; i < len(pb); i++ {
				gb[i] = max(gb[i-1], pb[i])
			}
			for i := len(pb) - 2; i >= 0; i-- {
				tb[i] = max(tb[i+1], pb[i])
			}
		}
	}
	g = g[2*k : 2*k+len(dst)]
	t = t[:len(dst)]
	if erode {
		for x := range dst {
			dst[x] = min(t[x], g[x])
		}
	} else {
		for x := range dst {
			dst[x] = max(t[x], g[x])
		}
	}
}

// Feather softens a mask's edges with a Gaussian blur of σ = r/3, so a hard
// edge becomes a ramp about 2r pixels wide centred on it (3σ each side: the
// same softness as align.Feather(2r) gives a hull mask). Its steepest step
// between neighbours is about 255/(σ·√(2π)) ≈ 305/r levels. r ≤ 0 gives a
// copy.
func Feather(m *image.Gray, r int) *image.Gray {
	if m == nil || m.Rect.Empty() || r <= 0 {
		return cloneGray(m)
	}
	out := image.NewGray(m.Rect)
	// As in morph: only the non-zero part grown by r can change.
	area := support(m).Inset(-r).Intersect(image.Rect(0, 0, m.Rect.Dx(), m.Rect.Dy()))
	if !area.Empty() {
		featherInto(view(out, area), view(m, area), r)
	}
	return out
}

// featherInto blurs m into out, of the same size, with zeros beyond m.
func featherInto(out, m *image.Gray, r int) {
	kernel := gaussianKernel(float64(r)/3, r)
	w, h := m.Rect.Dx(), m.Rect.Dy()
	// The horizontal pass keeps 8 fractional bits so that the vertical pass
	// does not round twice.
	tmp := make([]uint16, w*h)
	parallel(h, w, func(y0, y1 int) {
		padded := make([]uint8, w+2*r) // r zeros at each end
		for y := y0; y < y1; y++ {
			copy(padded[r:], rowGray(m, y))
			o := tmp[y*w : (y+1)*w : (y+1)*w]
			for x := range o {
				win := padded[x : x+len(kernel)]
				var s uint32
				for k, wt := range kernel {
					s += wt * uint32(win[k])
				}
				o[x] = uint16((s + 1<<(kernelBits-9)) >> (kernelBits - 8))
			}
		}
	})
	parallel(h, w, func(y0, y1 int) {
		acc := make([]uint32, w)
		for y := y0; y < y1; y++ {
			clear(acc)
			for k := max(-r, -y); k <= min(r, h-1-y); k++ {
				wt := kernel[k+r]
				row := tmp[(y+k)*w : (y+k+1)*w : (y+k+1)*w]
				for x, v := range row {
					acc[x] += wt * uint32(v)
				}
			}
			o := rowGray(out, y)
			for x, s := range acc {
				o[x] = uint8(min(255, (s+1<<(kernelBits+7))>>(kernelBits+8)))
			}
		}
	})
}

// kernelBits is the fixed-point precision of Feather's kernel; with 16 bits
// of intermediate values the vertical sums stay below 2³².
const kernelBits = 14

// gaussianKernel is a Gaussian of deviation sigma sampled at -r..r, in fixed
// point summing exactly to 1<<kernelBits.
func gaussianKernel(sigma float64, r int) []uint32 {
	f := make([]float64, 2*r+1)
	var sum float64
	for i := range f {
		d := float64(i - r)
		f[i] = math.Exp(-d * d / (2 * sigma * sigma))
		sum += f[i]
	}
	k := make([]uint32, 2*r+1)
	var total uint32
	for i := range f {
		k[i] = uint32(math.Round(f[i] / sum * (1 << kernelBits)))
		total += k[i]
	}
	k[r] += 1<<kernelBits - total // rounding slack goes to the centre
	return k
}

// Intersect is the pixelwise minimum of two masks of the same size: the
// region both allow (for a learned mask and a landmark hull, the face the
// model painted and the landmarks confirm).
func Intersect(a, b *image.Gray) (*image.Gray, error) {
	return combine(a, b, func(x, y uint8) uint8 { return min(x, y) })
}

// Union is the pixelwise maximum of two masks of the same size.
func Union(a, b *image.Gray) (*image.Gray, error) {
	return combine(a, b, func(x, y uint8) uint8 { return max(x, y) })
}

// Multiply is the product of two masks of the same size, a·b/255: soft
// masks attenuate each other where both are soft, unlike Intersect.
func Multiply(a, b *image.Gray) (*image.Gray, error) {
	return combine(a, b, func(x, y uint8) uint8 { return uint8((uint32(x)*uint32(y) + 127) / 255) })
}

func combine(a, b *image.Gray, op func(x, y uint8) uint8) (*image.Gray, error) {
	if err := sameSize([]string{"mask a", "mask b"}, a, b); err != nil {
		return nil, err
	}
	out := image.NewGray(a.Rect)
	for y := 0; y < a.Rect.Dy(); y++ {
		ra, rb, o := rowGray(a, y), rowGray(b, y), rowGray(out, y)
		for x := range o {
			o[x] = op(ra[x], rb[x])
		}
	}
	return out, nil
}
