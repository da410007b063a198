// Package landmark places the 68 iBUG 300-W landmarks with dlib's shape
// predictor (an ensemble of regression trees, Kazemi & Sullivan 2014), read
// from dlib's own model file and run in pure Go with dlib's arithmetic, so
// that the points are dlib's.
//
// The model is a cascade of forests. Every cascade level reads a few hundred
// pixel intensities at positions defined relative to the current shape
// estimate, walks each tree of its forest by comparing pixel pairs, and adds
// the reached leaves' shape offsets to the estimate. The estimate starts as
// the mean shape placed in the face box.
package landmark

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"

	"github.com/facesynth/facesynth/internal/assets"
	"github.com/facesynth/facesynth/internal/face"
)

// Predictor is a loaded shape predictor. It is read-only after loading and
// safe for concurrent use.
type Predictor struct {
	// mean is the initial shape, x0,y0,x1,y1,… in box-normalised units.
	mean []float32
	// meanCentred and meanSigma are the parts of dlib's similarity fit
	// (find_tform_between_shapes) that depend only on the mean shape, computed
	// once in the same order and precision as dlib computes them per call.
	meanCentred []float64
	meanSigma   float64
	levels      []level

	scratch sync.Pool // *scratch
}

// level is one cascade level: its feature pixels and its forest.
type level struct {
	// anchors[i] is 2·(index of the shape point feature pixel i hangs off),
	// i.e. the offset of its x in the shape vector; deltas[2i], deltas[2i+1]
	// is the pixel's offset from that point in mean-shape coordinates.
	anchors []int32
	deltas  []float32
	trees   []tree
	splits  []split
	// leaves holds every leaf's shape offset, len(mean) floats each.
	leaves []float32
}

// tree is a complete binary tree stored breadth-first (children of node i
// are 2i+1 and 2i+2, as in dlib); its nodes are splits[first:first+n] of
// its level and its n+1 leaves start at leaves[leaf0].
type tree struct {
	first, n, leaf0 int
}

// split sends a shape left when pixel a minus pixel b exceeds thresh.
type split struct {
	a, b   uint32
	thresh float32
}

type scratch struct {
	shape    []float32
	feats    []float32
	leafOffs []int
}

// Limits far above any trained model; they reject corrupted counts early
// with a clear message (allocation is bounded by the input size anyway).
const (
	maxParts  = 1 << 12
	maxLevels = 1 << 10
	maxTrees  = 1 << 20
	maxSplits = 1<<16 - 1
	maxPixels = 1 << 20
)

// Load reads a dlib shape predictor file such as
// shape_predictor_68_face_landmarks.dat.
func Load(path string) (*Predictor, error) {
	f, err := os.Open(path)
	if err != nil {
		// The path goes in front, as for every other load error; the
		// cause (fs.ErrNotExist, …) stays inspectable with errors.Is.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("landmark: %s: %w", path, err)
	}
	defer f.Close()
	size := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	p, err := decode(newDecoder(f, size))
	if err != nil {
		return nil, fmt.Errorf("landmark: %s: %w", path, err)
	}
	return p, nil
}

// Read reads a dlib shape predictor from r.
func Read(r io.Reader) (*Predictor, error) {
	size := int64(-1)
	if l, ok := r.(interface{ Len() int }); ok {
		size = int64(l.Len())
	}
	p, err := decode(newDecoder(r, size))
	if err != nil {
		return nil, fmt.Errorf("landmark: %w", err)
	}
	return p, nil
}

var (
	defaultOnce sync.Once
	defaultP    *Predictor
	defaultErr  error
)

// Default is dlib's 68-point model (assets.ShapePredictor), loaded on first
// use and shared: it holds about 70 MB and takes a quarter of a second to load.
func Default() (*Predictor, error) {
	defaultOnce.Do(func() {
		path, err := assets.ShapePredictor()
		if err != nil {
			defaultErr = fmt.Errorf("landmark: %w", err)
			return
		}
		defaultP, defaultErr = Load(path)
	})
	return defaultP, defaultErr
}

// NumParts is the number of landmarks the model places (68 for dlib's model).
func (p *Predictor) NumParts() int { return len(p.mean) / 2 }

// MeanShape is the model's initial shape in box-normalised coordinates
// ((0,0) = the box's top-left corner, (1,1) = its bottom-right corner): the
// template the cascade starts from.
func (p *Predictor) MeanShape() []face.Point {
	pts := make([]face.Point, p.NumParts())
	for i := range pts {
		pts[i] = face.Point{X: float64(p.mean[2*i]), Y: float64(p.mean[2*i+1])}
	}
	return pts
}

// BoxFromShape returns the dlib-style box whose placed mean shape best fits
// pts: a least-squares fit of one scale s and a translation (no rotation),
// giving the square box [left, top, left+s, top+s] (dlib's detector boxes
// are square). It lets a tracker re-derive a dlib-like box from landmarks.
// It returns the zero Box when len(pts) is not NumParts or the mean shape
// is degenerate.
func (p *Predictor) BoxFromShape(pts []face.Point) face.Box {
	n := p.NumParts()
	if n == 0 || len(pts) != n {
		return face.Box{}
	}
	var mx, my, px, py float64
	for i, q := range pts {
		mx += float64(p.mean[2*i])
		my += float64(p.mean[2*i+1])
		px += q.X
		py += q.Y
	}
	fn := float64(n)
	mx, my, px, py = mx/fn, my/fn, px/fn, py/fn
	var num, den float64
	for i, q := range pts {
		dx, dy := float64(p.mean[2*i])-mx, float64(p.mean[2*i+1])-my
		num += dx*(q.X-px) + dy*(q.Y-py)
		den += dx*dx + dy*dy
	}
	if den == 0 {
		return face.Box{}
	}
	s := num / den
	left, top := px-s*mx, py-s*my
	return face.Box{Left: left, Top: top, Right: left + s, Bottom: top + s}
}

// decode reads the fields of dlib's shape_predictor in the order its
// serialize() writes them: version, initial_shape, forests, anchor_idx,
// deltas.
func decode(d *decoder) (*Predictor, error) {
	d.what = "header"
	v, err := d.int(4)
	if err != nil {
		if errors.Is(err, errControl) {
			return nil, fmt.Errorf("not a dlib shape predictor: %w", err)
		}
		return nil, err
	}
	if v != 1 {
		return nil, fmt.Errorf("not a dlib shape predictor: version %d, want 1", v)
	}

	d.what = "initial shape"
	mean, err := readColumn(d, -1)
	if err != nil {
		return nil, err
	}
	if len(mean) == 0 || len(mean)%2 != 0 || len(mean) > 2*maxParts {
		return nil, fmt.Errorf("initial shape: %d coordinates, want an even number in [2, %d]", len(mean), 2*maxParts)
	}
	p := &Predictor{mean: mean}

	d.what = "forests"
	nLevels, err := d.count(maxLevels)
	if err != nil {
		return nil, err
	}
	p.levels = make([]level, 0, d.capHint(nLevels, 2))
	for l := range nLevels {
		d.what = fmt.Sprintf("cascade %d", l)
		lv, err := readForest(d, len(mean))
		if err != nil {
			return nil, err
		}
		p.levels = append(p.levels, lv)
	}

	d.what = "anchor indices"
	if n, err := d.count(maxLevels); err != nil {
		return nil, err
	} else if n != nLevels {
		return nil, fmt.Errorf("%s: %d cascades, but %d forests", d.what, n, nLevels)
	}
	for l := range p.levels {
		d.what = fmt.Sprintf("anchor indices of cascade %d", l)
		n, err := d.count(maxPixels)
		if err != nil {
			return nil, err
		}
		anchors := make([]int32, 0, d.capHint(n, 2))
		for range n {
			a, err := d.uint(8)
			if err != nil {
				return nil, err
			}
			if a >= uint64(p.NumParts()) {
				return nil, d.failf("anchor %d is not one of the %d parts", a, p.NumParts())
			}
			anchors = append(anchors, int32(2*a))
		}
		p.levels[l].anchors = anchors
	}

	d.what = "deltas"
	if n, err := d.count(maxLevels); err != nil {
		return nil, err
	} else if n != nLevels {
		return nil, fmt.Errorf("%s: %d cascades, but %d forests", d.what, n, nLevels)
	}
	for l := range p.levels {
		lv := &p.levels[l]
		d.what = fmt.Sprintf("deltas of cascade %d", l)
		n, err := d.count(maxPixels)
		if err != nil {
			return nil, err
		}
		if n != len(lv.anchors) {
			return nil, fmt.Errorf("%s: %d deltas for %d anchors", d.what, n, len(lv.anchors))
		}
		lv.deltas = make([]float32, 2*n)
		for i := range lv.deltas {
			if lv.deltas[i], err = d.float32(); err != nil {
				return nil, err
			}
		}
		for _, s := range lv.splits {
			if s.a >= uint32(n) || s.b >= uint32(n) {
				return nil, fmt.Errorf("cascade %d: split reads pixel %d or %d of only %d", l, s.a, s.b, n)
			}
		}
	}

	p.prepare()
	return p, nil
}

// readColumn reads a dlib matrix<float,0,1>. want ≥ 0 requires that many
// rows (a leaf must match the shape); its floats are appended to dst.
func readColumn(d *decoder, want int) ([]float32, error) {
	return appendColumn(d, nil, want)
}

func appendColumn(d *decoder, dst []float32, want int) ([]float32, error) {
	start := d.offset()
	nr, err := d.int(8)
	if err != nil {
		return nil, err
	}
	nc, err := d.int(8)
	if err != nil {
		return nil, err
	}
	// dlib's newer matrix format stores both dimensions negated.
	if nr < 0 || nc < 0 {
		nr, nc = -nr, -nc
	}
	if nc != 1 || nr < 0 || nr > 2*maxParts || (want >= 0 && nr != int64(want)) {
		if want >= 0 {
			return nil, fmt.Errorf("%s at byte %d: matrix is %dx%d, want %dx1", d.what, start, nr, nc, want)
		}
		return nil, fmt.Errorf("%s at byte %d: matrix is %dx%d, want a column of at most %d rows", d.what, start, nr, nc, 2*maxParts)
	}
	if dst == nil {
		dst = make([]float32, 0, d.capHint(int(nr), 4))
	}
	for range nr {
		v, err := d.float32()
		if err != nil {
			return nil, err
		}
		dst = append(dst, v)
	}
	return dst, nil
}

// readForest reads one std::vector<regression_tree>.
func readForest(d *decoder, dim int) (level, error) {
	var lv level
	nTrees, err := d.count(maxTrees)
	if err != nil {
		return lv, err
	}
	lv.trees = make([]tree, 0, d.capHint(nTrees, 4))
	for t := range nTrees {
		nSplits, err := d.count(maxSplits)
		if err != nil {
			return lv, err
		}
		if t == 0 {
			lv.splits = make([]split, 0, d.capHint(nTrees*nSplits, 8))
		}
		tr := tree{first: len(lv.splits), n: nSplits, leaf0: len(lv.leaves)}
		for range nSplits {
			a, err := d.uint(8)
			if err != nil {
				return lv, err
			}
			b, err := d.uint(8)
			if err != nil {
				return lv, err
			}
			th, err := d.float32()
			if err != nil {
				return lv, err
			}
			if a >= maxPixels || b >= maxPixels {
				return lv, d.failf("split pixel index %d or %d exceeds the limit %d", a, b, maxPixels)
			}
			lv.splits = append(lv.splits, split{a: uint32(a), b: uint32(b), thresh: th})
		}
		nLeaves, err := d.count(maxSplits + 1)
		if err != nil {
			return lv, err
		}
		// Walking the tree ends at node index n…2n, i.e. leaf 0…n.
		if nLeaves != nSplits+1 {
			return lv, d.failf("tree %d has %d splits but %d leaves, want %d", t, nSplits, nLeaves, nSplits+1)
		}
		if t == 0 {
			lv.leaves = make([]float32, 0, d.capHint(nTrees*nLeaves*dim, 4))
		}
		for range nLeaves {
			if lv.leaves, err = appendColumn(d, lv.leaves, dim); err != nil {
				return lv, err
			}
		}
		lv.trees = append(lv.trees, tr)
	}
	return lv, nil
}

// prepare precomputes the mean-shape half of dlib's similarity fit, exactly
// as find_similarity_transform computes it (float points, double sums).
func (p *Predictor) prepare() {
	n := p.NumParts()
	var mx, my float64
	for i := range n {
		mx += float64(p.mean[2*i])
		my += float64(p.mean[2*i+1])
	}
	mx /= float64(n)
	my /= float64(n)
	p.meanCentred = make([]float64, 2*n)
	var sigma float64
	for i := range n {
		dx := float64(p.mean[2*i]) - mx
		dy := float64(p.mean[2*i+1]) - my
		p.meanCentred[2*i], p.meanCentred[2*i+1] = dx, dy
		sigma += float64(dx*dx) + float64(dy*dy)
	}
	p.meanSigma = sigma / float64(n)
	maxFeats, maxTrees := 0, 0
	for _, lv := range p.levels {
		maxFeats = max(maxFeats, len(lv.anchors))
		maxTrees = max(maxTrees, len(lv.trees))
	}
	dim := len(p.mean)
	p.scratch.New = func() any {
		return &scratch{
			shape:    make([]float32, dim),
			feats:    make([]float32, maxFeats),
			leafOffs: make([]int, maxTrees),
		}
	}
}
