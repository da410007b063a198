package blend

import (
	"image"
	"math"
	"sync"
)

// Poisson clones src into dst seamlessly (Pérez, Gangnet and Blake,
// "Poisson Image Editing", 2003): inside the mask the result f keeps src's
// gradients but meets dst at the mask's edge, so a colour or lighting
// offset between the two is spread smoothly over the region instead of
// showing as a seam. It solves, per RGB channel and for every pixel p with
// mask > 0,
//
//	Σ_q (f_p − f_q) = Σ_q v_pq,   v_pq = w·(src_p − src_q) + (1−w)·(dst_p − dst_q),
//
// over p's 4-neighbours q in the image, w = max(mask_p, mask_q)/255, with
// f = dst where the mask is 0. A hard mask gives Pérez's guidance (src's
// gradients inside and across the edge); a feathered one fades
// from src's gradients to dst's across the feather, so the soft edge is
// kept. The image border is a free (Neumann) edge: a mask that reaches it
// leaves the colour there to src's gradients, so erode masks away from the
// crop edge for a crop that is pasted back.
//
// The system is solved by multigrid from the alpha blend: one full-multigrid
// pass and then V-cycles (red-black Gauss–Seidel, two sweeps before and
// after, bilinear prolongation), cycles in all. With cycles ≤ 0 it cycles
// until no pixel's residual exceeds a quarter level, which leaves the
// result within one level of the exact solution, at most 8 cycles: on
// 128-px faces that is 2 cycles for a feathered mask and 4 for a hard one,
// whose step at the edge takes longer to spread.
// The alpha channel and everything outside the mask are those of Alpha.
// A nil mask means src everywhere, which has no edge to meet: the result is
// src. dst, src and mask must have the same size.
func Poisson(dst, src *image.RGBA, mask *image.Gray, cycles int) (*image.RGBA, error) {
	out, _, err := poisson(dst, src, mask, cycles, false)
	return out, err
}

// poissonReport describes a solve: the RMS residual (in 8-bit levels, over
// the unknown pixels of all three channels) before and after, measured only
// when asked for.
type poissonReport struct {
	Unknowns          int
	Cycles            int // the most any channel ran
	Initial, Final    float64
	MaxFinal          float64
	Levels, CoarsestW int
}

const (
	smoothBefore, smoothAfter = 2, 2
	coarsestSweeps            = 100
	// convergedResidual is the largest residual (in levels) at which a
	// solve stops when no cycle count is given: on real faces it leaves
	// every pixel within one level of the fully converged result
	// (TestPoissonConvergence).
	convergedResidual = 0.25
	maxCycles         = 8
)

func poisson(dst, src *image.RGBA, mask *image.Gray, cycles int, measure bool) (*image.RGBA, poissonReport, error) {
	var rep poissonReport
	out, err := Alpha(dst, src, mask)
	if err != nil {
		return nil, rep, err
	}
	if mask == nil {
		return out, rep, nil
	}
	levels := buildLevels(mask)
	fine := levels[0]
	rep.Unknowns = fine.count
	rep.Levels = len(levels)
	rep.CoarsestW = levels[len(levels)-1].w
	if rep.Unknowns == 0 {
		return out, rep, nil
	}
	// f0 is the warm start; the solve finds the correction f − f0.
	f0 := out
	var (
		wg      sync.WaitGroup
		initial [3]float64
		final   [3]float64
		maxRes  [3]float64
		used    [3]int
	)
	solve := func(c int) {
		s := newSolver(levels)
		initialResidual(fine, c, dst, src, f0, mask, s.r[0])
		if measure {
			initial[c] = sumSquares(fine, s.r[0])
		}
		s.fullMultigrid()
		done := 1
		for {
			if cycles > 0 && done >= cycles {
				break
			}
			if cycles <= 0 {
				fine.residual(s.e[0], s.r[0], s.t)
				if maxAbs(fine, s.t) <= convergedResidual || done >= maxCycles {
					break
				}
			}
			s.vcycle(0)
			done++
		}
		used[c] = done
		if measure {
			fine.residual(s.e[0], s.r[0], s.t)
			final[c] = sumSquares(fine, s.t)
			maxRes[c] = maxAbs(fine, s.t)
		}
		apply(fine, c, s.e[0], f0, out)
	}
	if fine.w*fine.h >= parallelMinPixels {
		for c := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				solve(c)
			}()
		}
		wg.Wait()
	} else {
		for c := range 3 {
			solve(c)
		}
	}
	n := float64(3 * rep.Unknowns)
	rep.Cycles = max(used[0], used[1], used[2])
	rep.Initial = math.Sqrt((initial[0] + initial[1] + initial[2]) / n)
	rep.Final = math.Sqrt((final[0] + final[1] + final[2]) / n)
	rep.MaxFinal = max(maxRes[0], maxRes[1], maxRes[2])
	return out, rep, nil
}

// level is one grid of the multigrid hierarchy. Arrays are padded by one
// cell on every side (stride s = w+2) so that neighbours never need a
// bounds check; padding and fixed (Dirichlet) cells hold a correction of 0.
// The unknown cells are kept as runs along rows: face masks are convex-ish,
// so a row holds one or two runs, and loops over runs need neither an index
// list nor a test per cell.
type level struct {
	w, h, s int
	n, inv  []float32 // in-image neighbour count of unknown cells and its inverse; 0 elsewhere
	runs    []run
	count   int // unknown cells
}

// run is the unknown cells [i0, i1) (padded indices) of row y.
type run struct{ y, x0, i0, i1 int }

func (l *level) unknown(i int) bool { return l.n[i] != 0 }

func newLevel(w, h int, isUnknown func(x, y int) bool) *level {
	l := &level{w: w, h: h, s: w + 2}
	size := (w + 2) * (h + 2)
	l.n, l.inv = make([]float32, size), make([]float32, size)
	for y := range h {
		open := false
		for x := range w {
			nb := 0
			if x > 0 {
				nb++
			}
			if x < w-1 {
				nb++
			}
			if y > 0 {
				nb++
			}
			if y < h-1 {
				nb++
			}
			i := (y+1)*l.s + x + 1
			if nb == 0 || !isUnknown(x, y) {
				open = false
				continue
			}
			l.n[i], l.inv[i] = float32(nb), 1/float32(nb)
			l.count++
			if open {
				l.runs[len(l.runs)-1].i1++
			} else {
				l.runs = append(l.runs, run{y: y, x0: x, i0: i, i1: i + 1})
				open = true
			}
		}
	}
	return l
}

// buildLevels makes the hierarchy: the mask's pixels above 0 are the finest
// level's unknowns, and a coarse cell is unknown when all four of its
// children are, so that the coarse problem's fixed boundary lies at or
// inside the fine one. (Taking a cell when any child is unknown puts the
// coarse boundary outside; its corrections then overshoot at the edge, and
// on face masks the cycle diverged.) Coarsening stops at a grid 2 cells
// across, when no unknown is left, or before a grid with no fixed cell:
// there the correction would be free to drift by a constant (a pure
// Neumann problem).
func buildLevels(mask *image.Gray) []*level {
	w, h := mask.Rect.Dx(), mask.Rect.Dy()
	levels := []*level{newLevel(w, h, func(x, y int) bool { return mask.Pix[y*mask.Stride+x] != 0 })}
	for {
		f := levels[len(levels)-1]
		if f.w <= 2 || f.h <= 2 {
			return levels
		}
		cw, ch := (f.w+1)/2, (f.h+1)/2
		c := newLevel(cw, ch, func(x, y int) bool {
			i := (2*y+1)*f.s + 2*x + 1 // child (2x, 2y); padding reads as fixed
			return f.unknown(i) && f.unknown(i+1) && f.unknown(i+f.s) && f.unknown(i+f.s+1)
		})
		if c.count == 0 || c.count == cw*ch {
			return levels
		}
		levels = append(levels, c)
	}
}

// solver holds one channel's correction e and right-hand side r on every
// level, and scratch t for residuals, shared by the levels: a residual is
// restricted right after it is computed, and restrict reads only unknown
// cells, so stale values elsewhere in t never matter.
type solver struct {
	levels []*level
	e, r   [][]float32
	t      []float32
}

func newSolver(levels []*level) *solver {
	s := &solver{levels: levels}
	total := 0
	for _, l := range levels {
		total += 2 * (l.w + 2) * (l.h + 2)
	}
	buf := make([]float32, total+(levels[0].w+2)*(levels[0].h+2))
	for _, l := range levels {
		size := (l.w + 2) * (l.h + 2)
		s.e = append(s.e, buf[:size:size])
		s.r = append(s.r, buf[size:2*size:2*size])
		buf = buf[2*size:]
	}
	s.t = buf
	return s
}

// clearUnknowns zeroes a correction at the unknown cells; the fixed cells
// and the padding are 0 already (prolongAdd restores the padding it uses).
func (l *level) clearUnknowns(e []float32) {
	for _, ru := range l.runs {
		clear(e[ru.i0:ru.i1])
	}
}

// fullMultigrid solves from zero: the right-hand side is restricted to the
// coarsest grid and solved there, and each finer level starts from the
// coarser solution, interpolated, and improves it with one V-cycle.
func (s *solver) fullMultigrid() {
	last := len(s.levels) - 1
	for k := range last {
		restrict(s.levels[k], s.levels[k+1], s.r[k], s.r[k+1])
	}
	s.levels[last].clearUnknowns(s.e[last])
	s.levels[last].smooth(s.e[last], s.r[last], coarsestSweeps)
	for k := last - 1; k >= 0; k-- {
		s.levels[k].clearUnknowns(s.e[k])
		prolongAdd(s.levels[k], s.levels[k+1], s.e[k], s.e[k+1])
		s.vcycle(k)
	}
}

// vcycle improves level k's correction: smooth, solve for the error of the
// smoothed result on the coarser grid, add it back, smooth again.
func (s *solver) vcycle(k int) {
	l := s.levels[k]
	if k == len(s.levels)-1 {
		l.smooth(s.e[k], s.r[k], coarsestSweeps)
		return
	}
	l.smooth(s.e[k], s.r[k], smoothBefore)
	l.residual(s.e[k], s.r[k], s.t)
	c := s.levels[k+1]
	restrict(l, c, s.t, s.r[k+1])
	c.clearUnknowns(s.e[k+1])
	s.vcycle(k + 1)
	prolongAdd(l, c, s.e[k], s.e[k+1])
	l.smooth(s.e[k], s.r[k], smoothAfter)
}

// smooth runs red-black Gauss–Seidel sweeps of n_p·e_p − Σ e_q = r_p.
func (l *level) smooth(e, r []float32, sweeps int) {
	s, inv := l.s, l.inv
	for range sweeps {
		for colour := range 2 {
			for _, ru := range l.runs {
				// The first cell of the run with (x+y)&1 == colour.
				for i := ru.i0 + (ru.x0+ru.y+colour)&1; i < ru.i1; i += 2 {
					e[i] = (r[i] + e[i-1] + e[i+1] + e[i-s] + e[i+s]) * inv[i]
				}
			}
		}
	}
}

// residual writes r − A·e into t at the unknown cells (t is 0 elsewhere,
// never having been written there).
func (l *level) residual(e, r, t []float32) {
	s, n := l.s, l.n
	for _, ru := range l.runs {
		for i := ru.i0; i < ru.i1; i++ {
			t[i] = r[i] - (n[i]*e[i] - e[i-1] - e[i+1] - e[i-s] - e[i+s])
		}
	}
}

// restrict sums each coarse cell's four children. The coarse operator is
// the same 5-point stencil on cells twice as wide, which is 4× the fine one
// per unit of area, so the sum (not the mean) is the coarse right-hand side.
// All four children of a coarse unknown are fine unknowns, and every
// coarse unknown is written, so nothing else in from or to is touched.
func restrict(f, c *level, from, to []float32) {
	fs := f.s
	for _, ru := range c.runs {
		fi := (2*ru.y+1)*fs + 2*ru.x0 + 1
		for ci := ru.i0; ci < ru.i1; ci, fi = ci+1, fi+2 {
			to[ci] = from[fi] + from[fi+1] + from[fi+fs] + from[fi+fs+1]
		}
	}
}

// prolongAdd interpolates the coarse correction bilinearly (each fine cell
// sits a quarter of a coarse cell from its parent's centre: weights 9, 3,
// 3, 1 over 16) and adds it to the fine one. Beyond the image edge the
// coarse correction is continued flat, matching the free edge; the padding
// that carries it is zeroed again afterwards, as smoothing expects.
func prolongAdd(f, c *level, fe, ce []float32) {
	c.fillPadding(ce, true)
	defer c.fillPadding(ce, false)
	cs := c.s
	for _, ru := range f.runs {
		dy := cs
		if ru.y&1 == 0 {
			dy = -cs
		}
		crow := (ru.y/2+1)*cs + 1
		x := ru.x0
		for fi := ru.i0; fi < ru.i1; fi, x = fi+1, x+1 {
			ci := crow + x>>1
			dx := (x&1)<<1 - 1 // left neighbour for an even x, right for odd
			fe[fi] += (9*ce[ci] + 3*ce[ci+dx] + 3*ce[ci+dy] + ce[ci+dx+dy]) * (1.0 / 16)
		}
	}
}

// fillPadding sets the padding around e to copies of the edge cells
// (replicate) or to 0.
func (l *level) fillPadding(e []float32, replicate bool) {
	s := l.s
	for y := 1; y <= l.h; y++ {
		if replicate {
			e[y*s], e[y*s+l.w+1] = e[y*s+1], e[y*s+l.w]
		} else {
			e[y*s], e[y*s+l.w+1] = 0, 0
		}
	}
	if replicate {
		copy(e[:s], e[s:2*s])
		copy(e[(l.h+1)*s:], e[l.h*s:(l.h+1)*s])
	} else {
		clear(e[:s])
		clear(e[(l.h+1)*s:])
	}
}

// initialResidual is the right-hand side of the correction's equation: the
// residual of the warm start f0 in the system Poisson documents, for
// channel c.
func initialResidual(l *level, c int, dst, src, f0 *image.RGBA, mask *image.Gray, r []float32) {
	w, h := l.w, l.h
	for _, ru := range l.runs {
		y := ru.y
		x := ru.x0
		for i := ru.i0; i < ru.i1; i, x = i+1, x+1 {
			pd, ps, pf, pm := y*dst.Stride+4*x+c, y*src.Stride+4*x+c, y*f0.Stride+4*x+c, y*mask.Stride+x
			mp := mask.Pix[pm]
			if mp == 255 && x > 0 && x < w-1 && y > 0 && y < h-1 &&
				mask.Pix[pm-1]&mask.Pix[pm+1]&mask.Pix[pm-mask.Stride]&mask.Pix[pm+mask.Stride] == 255 {
				// Inside the fully opaque part the warm start is src
				// itself and the guidance src's gradients: no residual.
				r[i] = 0
				continue
			}
			sp, dp, fp := float32(src.Pix[ps]), float32(dst.Pix[pd]), float32(f0.Pix[pf])
			term := func(od, os, of, om int) float32 {
				wt := float32(max(mp, mask.Pix[pm+om])) * (1.0 / 255)
				sq, dq, fq := float32(src.Pix[ps+os]), float32(dst.Pix[pd+od]), float32(f0.Pix[pf+of])
				return wt*(sp-sq) + (1-wt)*(dp-dq) - (fp - fq)
			}
			var sum float32
			if x > 0 {
				sum += term(-4, -4, -4, -1)
			}
			if x < w-1 {
				sum += term(4, 4, 4, 1)
			}
			if y > 0 {
				sum += term(-dst.Stride, -src.Stride, -f0.Stride, -mask.Stride)
			}
			if y < h-1 {
				sum += term(dst.Stride, src.Stride, f0.Stride, mask.Stride)
			}
			r[i] = sum
		}
	}
}

// apply writes f0 + e, rounded, into channel c of out at the unknown cells.
func apply(l *level, c int, e []float32, f0, out *image.RGBA) {
	for _, ru := range l.runs {
		x := ru.x0
		for i := ru.i0; i < ru.i1; i, x = i+1, x+1 {
			out.Pix[ru.y*out.Stride+4*x+c] = clamp8(float32(f0.Pix[ru.y*f0.Stride+4*x+c]) + e[i])
		}
	}
}

func sumSquares(l *level, v []float32) float64 {
	var s float64
	for _, ru := range l.runs {
		for _, x := range v[ru.i0:ru.i1] {
			s += float64(x) * float64(x)
		}
	}
	return s
}

func maxAbs(l *level, v []float32) float64 {
	var m float32
	for _, ru := range l.runs {
		for _, x := range v[ru.i0:ru.i1] {
			m = max(m, x, -x)
		}
	}
	return float64(m)
}
