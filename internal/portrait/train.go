package portrait

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/facesynth/facesynth/internal/align"
	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/fsutil"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/plot"
	"github.com/facesynth/facesynth/internal/progress"
	"github.com/facesynth/facesynth/internal/torch"
)

// Config are the training settings, saved with the model.
type Config struct {
	Batch int     `json:"batch"`
	LR    float64 `json:"lr"`     // Adam, β = (0.5, 0.999) as pix2pix
	L1    float64 `json:"l1"`     // weight of the L1 term against the adversarial one (pix2pix: 100)
	Hold  float64 `json:"hold"`   // fraction of the clip's frames, at its end, kept out of training
	Seed  uint64  `json:"seed"`   // initial weights and batches
	Limit int     `json:"frames"` // frames of the video used (0: all)
}

// DefaultConfig is pix2pix's recipe at batch 4.
func DefaultConfig() Config {
	return Config{Batch: 4, LR: 2e-4, L1: 100, Hold: 0.15, Seed: 1}
}

// Options control Train.
type Options struct {
	Config   Config        // DefaultConfig() when zero
	Steps    int           // train up to this many steps in all (0: no limit)
	Duration time.Duration // stop this run after so long (0: no limit)
	Resume   bool
	Progress progress.Reporter
}

// State is the model folder's state.json.
type State struct {
	Format string `json:"format"`
	Step   int    `json:"step"`
	Config Config `json:"config"`
	Video  string `json:"video"`
	Train  int    `json:"train_frames"` // frames [0, Train) are training frames; the rest are held out
	// Reference is the training frame the warp input is made from (the
	// calmest face), saved as reference.png with its landmarks in crop
	// coordinates.
	Reference int          `json:"reference_frame"`
	RefPoints []face.Point `json:"reference_points"`
	Frames    int          `json:"frames"`
	Seconds   float64      `json:"seconds"`
	History   []LossPoint  `json:"history"`
}

// LossPoint is the mean losses over a stretch of steps.
type LossPoint struct {
	Step int     `json:"step"`
	L1   float64 `json:"l1"` // mean absolute error of the generated face, 0..1
	G    float64 `json:"g_adv"`
	D    float64 `json:"d"`
}

const (
	stateFile     = "state.json"
	weightsFile   = "weights.safetensors"
	optGFile      = "optimizer-g.safetensors"
	optDFile      = "optimizer-d.safetensors"
	referenceFile = "reference.png"
	PreviewFile   = "preview.png"
	LossFile      = "loss.png"
	format        = "facesynth-portrait-1"
)

// Train learns to draw video's face from its landmarks, into modelDir. It
// writes a checkpoint, a preview and a loss plot now and then and when it
// stops (done, time up, or ctx cancelled: a cancelled run keeps its last
// step and can be resumed).
func Train(ctx context.Context, video, modelDir string, o Options) (*State, error) {
	runtime.LockOSThread() // libtorch's thread pool belongs to this thread
	defer runtime.UnlockOSThread()
	st := &State{Format: format, Config: o.Config, Video: video}
	if st.Config.Batch == 0 {
		st.Config = DefaultConfig()
	}
	if o.Resume {
		old, err := ReadState(modelDir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		if old != nil {
			st = old
		}
	}
	c := st.Config
	if c.Batch < 1 || !(c.LR > 0) || !(c.Hold >= 0 && c.Hold < 1) {
		return nil, fmt.Errorf("portrait: bad config %+v", c)
	}
	clip, err := ReadClip(ctx, video, c.Limit, nil)
	if err != nil {
		return nil, err
	}
	st.Frames = clip.Len()
	st.Train = int(float64(clip.Len()) * (1 - c.Hold))
	var train []int
	for i := Context - 1; i < st.Train; i++ {
		if clip.Crops[i] != nil {
			train = append(train, i)
		}
	}
	if len(train) < c.Batch {
		return nil, fmt.Errorf("portrait: %s: %d usable training frames, need at least %d", video, len(train), c.Batch)
	}
	if st.Step == 0 {
		st.Reference = face.Calmest(clip.Points[:st.Train])
		st.RefPoints = CropTransform(clip.Points[st.Reference]).ApplyAll(clip.Points[st.Reference])
	}
	if st.Reference < 0 || st.Reference >= clip.Len() || clip.Crops[st.Reference] == nil {
		return nil, fmt.Errorf("portrait: %s: reference frame %d has no face", video, st.Reference)
	}
	cond, err := newConditioner(clip.Crops[st.Reference], st.RefPoints)
	if err != nil {
		return nil, err
	}

	torch.ManualSeed(c.Seed)
	m, err := NewModel()
	if err != nil {
		return nil, err
	}
	defer m.Close()
	gParams, dParams := m.params.Sub("generator").Trainable(), m.params.Sub("discriminator").Trainable()
	adam := torch.AdamConfig{LR: c.LR, Beta1: 0.5, Beta2: 0.999, Eps: 1e-8}
	optG, err := torch.NewAdam(gParams, adam)
	if err != nil {
		return nil, err
	}
	defer optG.Close()
	optD, err := torch.NewAdam(dParams, adam)
	if err != nil {
		return nil, err
	}
	defer optD.Close()
	if st.Step > 0 {
		if _, err := m.params.Load(filepath.Join(modelDir, weightsFile)); err != nil {
			return nil, fmt.Errorf("portrait: resume: %w", err)
		}
		if err := optG.Load(filepath.Join(modelDir, optGFile)); err != nil {
			return nil, fmt.Errorf("portrait: resume: %w", err)
		}
		if err := optD.Load(filepath.Join(modelDir, optDFile)); err != nil {
			return nil, fmt.Errorf("portrait: resume: %w", err)
		}
	}
	if err := os.MkdirAll(modelDir, 0o755); err != nil {
		return nil, err
	}

	rep := progress.Of(o.Progress)
	plane := inChannels * Size * Size
	sk := make([]float32, c.Batch*plane)
	real := make([]float32, c.Batch*3*Size*Size)
	wt := make([]float32, c.Batch*Size*Size)
	start := time.Now()
	before := st.Seconds
	var acc LossPoint
	var accN int
	save := func() error {
		st.Seconds = before + time.Since(start).Seconds()
		return saveCheckpoint(modelDir, m, optG, optD, st, clip, cond)
	}
	for {
		if o.Steps > 0 && st.Step >= o.Steps {
			break
		}
		if o.Duration > 0 && time.Since(start) >= o.Duration {
			break
		}
		if ctx.Err() != nil {
			break
		}
		rng := rand.New(rand.NewPCG(c.Seed, uint64(st.Step)))
		for b := 0; b < c.Batch; b++ {
			i := train[rng.IntN(len(train))]
			t := CropTransform(clip.Points[i])
			if err := cond.fill(sk[b*plane:(b+1)*plane], clip.Points, i, t); err != nil {
				return nil, err
			}
			toCHW(real[b*3*Size*Size:(b+1)*3*Size*Size], clip.Crops[i])
			faceWeight(wt[b*Size*Size:(b+1)*Size*Size], t.ApplyAll(clip.Points[i]))
		}
		l, err := step(m, optG, optD, sk, real, wt, c)
		if err != nil {
			return nil, fmt.Errorf("portrait: step %d: %w", st.Step+1, err)
		}
		st.Step++
		acc.L1 += l.L1
		acc.G += l.G
		acc.D += l.D
		accN++
		if accN == 10 {
			n := float64(accN)
			st.History = append(st.History, LossPoint{Step: st.Step, L1: acc.L1 / n, G: acc.G / n, D: acc.D / n})
			acc, accN = LossPoint{}, 0
		}
		status := fmt.Sprintf("L1 %.4f G %.3f D %.3f", l.L1, l.G, l.D)
		if o.Steps > 0 {
			rep.Report(st.Step, o.Steps, status)
		} else if o.Duration > 0 {
			rep.Report(int(time.Since(start)/time.Second), int(o.Duration/time.Second), status)
		}
		if st.Step%200 == 0 {
			if err := save(); err != nil {
				return nil, err
			}
		}
	}
	if err := save(); err != nil {
		return nil, err
	}
	rep.Done()
	return st, ctx.Err()
}

// stepLoss is one step's losses.
type stepLoss struct{ L1, G, D float64 }

// step is one pix2pix step: the critic learns real from generated faces
// for these sketches, then the generator learns to fool it while staying
// close to the real face (L1).
func step(m *Model, optG, optD *torch.Adam, sk, real, weight []float32, c Config) (stepLoss, error) {
	scope := torch.NewScope()
	defer scope.Close()
	n := int64(c.Batch)
	x := torch.FromFloat32(sk, n, inChannels, Size, Size)
	y := torch.FromFloat32(real, n, 3, Size, Size)
	fake := m.G.Forward(x)

	// Critic.
	dReal := m.D.Forward(x, y)
	dFake := m.D.Forward(x, torch.Detach(fake))
	lossD := torch.MulScalar(torch.Add(
		torch.BCEWithLogits(dReal, torch.OnesLike(dReal)),
		torch.BCEWithLogits(dFake, torch.ZerosLike(dFake))), 0.5)
	if err := optD.Minimize(lossD); err != nil {
		return stepLoss{}, err
	}

	// Generator.
	dGen := m.D.Forward(x, fake)
	adv := torch.BCEWithLogits(dGen, torch.OnesLike(dGen))
	// L1 weighted to the face: the renderer's output is pasted inside
	// the landmarks' hull, so errors on the background matter a tenth.
	w := torch.FromFloat32(weight, n, 1, Size, Size)
	l1 := torch.Div(torch.Sum(torch.Mul(torch.Abs(torch.Sub(fake, y)), w)), torch.MulScalar(torch.Sum(w), 3))
	lossG := torch.Add(adv, torch.MulScalar(l1, c.L1))
	if err := optG.Minimize(lossG); err != nil {
		return stepLoss{}, err
	}
	v, err := torch.Stack([]*torch.Tensor{l1, adv, lossD}, 0).Float32s()
	if err != nil {
		return stepLoss{}, err
	}
	l := stepLoss{L1: float64(v[0]), G: float64(v[1]), D: float64(v[2])}
	if math.IsNaN(l.L1+l.G+l.D) || math.IsInf(l.L1+l.G+l.D, 0) {
		return l, errors.New("loss is not a finite number (training diverged)")
	}
	return l, nil
}

// faceWeight is the L1 weight of each crop pixel: 1 inside the face's hull
// (brows lifted, grown by a few pixels), 0.1 elsewhere.
func faceWeight(dst []float32, pts []face.Point) {
	m := align.HullMask(pts, Size, Size, align.BrowLift(0.2), align.Dilate(4))
	for i, v := range m.Pix {
		dst[i] = 0.1 + 0.9*float32(v)/255
	}
}

// toCHW writes an RGBA crop as planar RGB in [0, 1].
func toCHW(dst []float32, img *image.RGBA) {
	n := Size * Size
	for i := 0; i < n; i++ {
		dst[i] = float32(img.Pix[4*i]) / 255
		dst[n+i] = float32(img.Pix[4*i+1]) / 255
		dst[2*n+i] = float32(img.Pix[4*i+2]) / 255
	}
}

// fromCHW is toCHW's inverse.
func fromCHW(src []float32) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, Size, Size))
	n := Size * Size
	for i := 0; i < n; i++ {
		for c := 0; c < 3; c++ {
			img.Pix[4*i+c] = uint8(math.Round(float64(max(0, min(1, src[c*n+i]))) * 255))
		}
		img.Pix[4*i+3] = 255
	}
	return img
}

// saveCheckpoint writes weights, both optimisers, then state.json last, so
// a crash mid-save leaves the previous state.json pointing at files that
// are all still whole (each is itself written to a temporary name and
// renamed); then a preview and the loss plot.
func saveCheckpoint(dir string, m *Model, optG, optD *torch.Adam, st *State, clip *Clip, cond *conditioner) error {
	if err := media.SaveImage(filepath.Join(dir, referenceFile), clip.Crops[st.Reference]); err != nil {
		return err
	}
	if err := m.params.Save(filepath.Join(dir, weightsFile), map[string]string{"format": format}); err != nil {
		return err
	}
	if err := optG.Save(filepath.Join(dir, optGFile)); err != nil {
		return err
	}
	if err := optD.Save(filepath.Join(dir, optDFile)); err != nil {
		return err
	}
	js, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		return err
	}
	if err := fsutil.WriteFile(filepath.Join(dir, stateFile), append(js, '\n'), 0o644); err != nil {
		return err
	}
	if err := media.SaveImage(filepath.Join(dir, PreviewFile), preview(m, clip, st, cond)); err != nil {
		return err
	}
	return media.SaveImage(filepath.Join(dir, LossFile), lossPlot(st.History))
}

// preview shows, for a few training frames and a few held-out ones, the
// sketch, the warped reference, the rendered face and the real one, side by
// side.
func preview(m *Model, clip *Clip, st *State, cond *conditioner) *image.RGBA {
	var picks []int
	for _, f := range []float64{0.1, 0.4, 0.7} {
		picks = append(picks, int(f*float64(st.Train)))
	}
	for _, f := range []float64{0.3, 0.7} {
		picks = append(picks, st.Train+int(f*float64(st.Frames-st.Train)))
	}
	out := image.NewRGBA(image.Rect(0, 0, 4*Size, len(picks)*Size))
	for r, i := range picks {
		i = nearestFace(clip, i)
		if i < 0 {
			continue
		}
		t := CropTransform(clip.Points[i])
		sk := make([]float32, inChannels*Size*Size)
		if err := cond.fill(sk, clip.Points, i, t); err != nil {
			continue
		}
		gen, err := m.render(sk)
		if err != nil {
			continue
		}
		skImg := image.NewRGBA(image.Rect(0, 0, Size, Size))
		for p := 0; p < Size*Size; p++ {
			for c := 0; c < 3; c++ {
				skImg.Pix[4*p+c] = uint8(255 * sk[c*Size*Size+p])
			}
			skImg.Pix[4*p+3] = 255
		}
		for col, img := range []*image.RGBA{skImg, cond.warped, gen, clip.Crops[i]} {
			draw.Draw(out, image.Rect(col*Size, r*Size, (col+1)*Size, (r+1)*Size), img, image.Point{}, draw.Src)
		}
	}
	return out
}

func nearestFace(clip *Clip, i int) int {
	for d := 0; d < clip.Len(); d++ {
		for _, j := range []int{i + d, i - d} {
			if j >= 0 && j < clip.Len() && clip.Crops[j] != nil {
				return j
			}
		}
	}
	return -1
}

// render runs the generator on one frame's sketches.
func (m *Model) render(sk []float32) (*image.RGBA, error) {
	var out []float32
	var err error
	torch.NoGrad(func() {
		scope := torch.NewScope()
		defer scope.Close()
		out, err = m.G.Forward(torch.FromFloat32(sk, 1, inChannels, Size, Size)).Float32s()
	})
	if err != nil {
		return nil, err
	}
	return fromCHW(out), nil
}

func lossPlot(h []LossPoint) *image.RGBA {
	var steps, l1 []float64
	for _, p := range h {
		steps, l1 = append(steps, float64(p.Step)), append(l1, p.L1)
	}
	return plot.L1History("PORTRAIT RENDERER L1", steps, l1)
}

// ReadState reads a model folder's state.json.
func ReadState(dir string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil || st.Format != format {
		return nil, fmt.Errorf("portrait: %s is not a portrait renderer's state (%v)", filepath.Join(dir, stateFile), err)
	}
	return &st, nil
}
