package syncnet

import (
	"embed"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"runtime"
	"sort"

	"github.com/facesynth/facesynth/internal/torch"
)

// model holds the scorer trained by `facesynth train sync` (see README.md).
//
//go:embed model
var model embed.FS

// ModelFile is the shipped scorer inside the model folder.
const ModelFile = "model/scorer.safetensors"

// Result is the scorer's verdict on one clip.
type Result struct {
	// Offset is the audio offset, in frames, at which sound and picture
	// match best: the speech that goes with frame i is heard at frame
	// i+Offset, so a positive offset means the sound comes late.
	Offset int `json:"offset_frames"`
	// Seconds is Offset in seconds.
	Seconds float64 `json:"offset_seconds"`
	// Confidence is SyncNet's: the median of the mean distances over all
	// offsets minus the smallest. A clear minimum (a face speaking its own
	// soundtrack) scores high; speech that belongs to no offset (dubbed,
	// shuffled or another person's) scores near zero.
	Confidence float64 `json:"confidence"`
	MinDist    float64 `json:"min_distance"`
	MedianDist float64 `json:"median_distance"`
	// Dists are the mean embedding distances at offsets −MaxOffset …
	// +MaxOffset.
	Dists   []float64 `json:"distances"`
	Windows int       `json:"windows"` // video windows averaged
	FPS     float64   `json:"fps"`
}

// Scorer scores clips with one trained network. It is not safe for
// concurrent use.
type Scorer struct {
	p   *torch.Params
	net *Net
}

// Load is the scorer shipped in this build.
func Load() (*Scorer, error) {
	b, err := fs.ReadFile(model, ModelFile)
	if err != nil {
		return nil, errNoModel
	}
	return load(func(p *torch.Params) error {
		_, err := p.LoadBytes(b, ModelFile)
		return err
	}, ModelFile)
}

// LoadFile is a scorer trained by Train and saved at path.
func LoadFile(path string) (*Scorer, error) {
	return load(func(p *torch.Params) error {
		_, err := p.Load(path)
		return err
	}, path)
}

// load builds the network and fills its weights with read.
func load(read func(*torch.Params) error, name string) (*Scorer, error) {
	if !torch.Available {
		return nil, torch.ErrUnavailable
	}
	p := torch.NewParams()
	net := NewNet(p)
	if err := p.Err(); err != nil {
		p.Close()
		return nil, err
	}
	if err := read(p); err != nil {
		p.Close()
		return nil, fmt.Errorf("syncnet: %s: %w", filepath.Base(name), err)
	}
	p.SetTraining(false)
	return &Scorer{p: p, net: net}, nil
}

// Close frees the network.
func (s *Scorer) Close() {
	if s != nil && s.p != nil {
		s.p.Close()
		s.p = nil
	}
}

// batch bounds the windows embedded at once.
const batch = 256

// Score finds the audio offset at which the clip's mouth and speech match
// best, trying every offset within ±MaxOffset frames on the same set of
// windows, and how clearly it does.
func (s *Scorer) Score(c *Clip) (*Result, error) {
	f, err := newFeatures(c)
	if err != nil {
		return nil, err
	}
	// The windows judged are those whose video has a mouth in every frame
	// and whose speech lies inside the recording at every offset tried.
	var idx []int
	for i := range f.mouths {
		if f.videoOK(i) && f.audioOK(i-MaxOffset) && f.audioOK(i+MaxOffset) {
			idx = append(idx, i)
		}
	}
	if len(idx) < 3 {
		return nil, fmt.Errorf("syncnet: %s: too short to score: %d frames with a face and speech around them, need %d",
			c.Name, len(idx), 2*MaxOffset+Frames+3)
	}
	var vEmb, aEmb [][]float32
	aFirst := idx[0] - MaxOffset
	aLast := idx[len(idx)-1] + MaxOffset
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	torch.NoGrad(func() {
		vEmb, err = s.embed(len(idx), videoLen, []int64{Frames, InHeight, InWidth}, s.net.Video, func(dst []float32, k int) {
			f.putVideo(dst, idx[k], jitter, jitter)
		})
		if err != nil {
			return
		}
		aEmb, err = s.embed(aLast-aFirst+1, audioLen, []int64{Coeffs, AudioRows}, s.net.Audio, func(dst []float32, k int) {
			f.putAudio(dst, aFirst+k)
		})
	})
	if err != nil {
		return nil, err
	}
	r := &Result{Windows: len(idx), FPS: c.FPS, Dists: make([]float64, 2*MaxOffset+1)}
	for o := -MaxOffset; o <= MaxOffset; o++ {
		var sum float64
		for k, i := range idx {
			sum += dist(vEmb[k], aEmb[i+o-aFirst])
		}
		r.Dists[o+MaxOffset] = sum / float64(len(idx))
	}
	best := 0
	for k, d := range r.Dists {
		if d < r.Dists[best] {
			best = k
		}
	}
	sorted := append([]float64(nil), r.Dists...)
	sort.Float64s(sorted)
	r.Offset = best - MaxOffset
	r.Seconds = float64(r.Offset) / c.FPS
	r.MinDist = r.Dists[best]
	r.MedianDist = sorted[len(sorted)/2]
	r.Confidence = r.MedianDist - r.MinDist
	return r, nil
}

// embed runs encode over n inputs of size per, filled by put, in batches,
// and returns the embeddings.
func (s *Scorer) embed(n, per int, shape []int64, encode func(*torch.Tensor) *torch.Tensor, put func([]float32, int)) ([][]float32, error) {
	out := make([][]float32, 0, n)
	buf := make([]float32, batch*per)
	for at := 0; at < n; at += batch {
		m := min(batch, n-at)
		for k := 0; k < m; k++ {
			put(buf[k*per:(k+1)*per], at+k)
		}
		sc := torch.NewScope()
		e, err := encode(torch.FromFloat32(buf[:m*per], append([]int64{int64(m)}, shape...)...)).Float32s()
		sc.Close()
		if err != nil {
			return nil, fmt.Errorf("syncnet: %w", err)
		}
		for k := 0; k < m; k++ {
			out = append(out, e[k*Embed:(k+1)*Embed])
		}
	}
	return out, nil
}

func dist(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i] - b[i])
		s += d * d
	}
	return math.Sqrt(s)
}
