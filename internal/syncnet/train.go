package syncnet

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"time"

	"github.com/facesynth/facesynth/internal/progress"
	"github.com/facesynth/facesynth/internal/torch"
)

// TrainOptions are the scorer's training settings. Zero values take the
// defaults, which are what the shipped model was trained with.
type TrainOptions struct {
	Steps  int     // optimiser steps (default 3000)
	Batch  int     // in-sync pairs per step, each with one off-sync pair (default 64)
	LR     float64 // Adam learning rate (default 1e-3, a tenth of it for the last quarter)
	Margin float64 // contrastive margin on the unit-embedding distance (default 1)
	Seed   uint64  // initial weights and batches (default 1)
	// OtherClip is the share of off-sync pairs whose speech comes from
	// another clip rather than from the same clip shifted by 2–15 frames
	// (default 0.2).
	OtherClip float64
	Progress  progress.Reporter
}

func (o *TrainOptions) defaults() error {
	if o.Steps == 0 {
		o.Steps = 3000
	}
	if o.Batch == 0 {
		o.Batch = 64
	}
	if o.LR == 0 {
		o.LR = 1e-3
	}
	if o.Margin == 0 {
		o.Margin = 1
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.OtherClip == 0 {
		o.OtherClip = 0.2
	}
	if o.Steps < 1 || o.Batch < 2 || !(o.LR > 0) || !(o.Margin > 0 && o.Margin <= 2) || o.OtherClip < 0 || o.OtherClip > 1 {
		return fmt.Errorf("syncnet: bad training options %+v", *o)
	}
	return nil
}

// TrainResult is how a training run ended.
type TrainResult struct {
	Steps    int
	Clips    int
	Windows  int     // training windows (clip, frame) available
	Loss     float64 // mean over the last 100 steps
	Accuracy float64 // share of pairs, last 100 steps, whose in-sync distance is below the off-sync one
	Seconds  float64
}

func (r TrainResult) String() string {
	return fmt.Sprintf("%d steps on %d windows of %d clips in %.0f s: loss %.4f, pair accuracy %.3f",
		r.Steps, r.Windows, r.Clips, r.Seconds, r.Loss, r.Accuracy)
}

// window is one training position: clip c, frames i … i+Frames−1.
type window struct{ c, i int }

// Train fits a new scorer on clips that are in sync and saves its weights
// to out (safetensors, with the settings as metadata). The run is
// deterministic for a given seed, data and thread count.
func Train(ctx context.Context, clips []*Clip, out string, o TrainOptions) (*TrainResult, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if !torch.Available {
		return nil, torch.ErrUnavailable
	}
	rep := progress.Of(o.Progress)
	var feats []*features
	var wins []window
	for _, c := range clips {
		f, err := newFeatures(c)
		if err != nil {
			return nil, err
		}
		k := len(feats)
		feats = append(feats, f)
		for i := range f.mouths {
			if f.videoOK(i) && f.audioOK(i) {
				wins = append(wins, window{k, i})
			}
		}
	}
	withWindows := map[int]bool{}
	for _, w := range wins {
		withWindows[w.c] = true
	}
	if len(withWindows) < 2 || len(wins) < o.Batch {
		return nil, fmt.Errorf("syncnet: %d clips with %d usable windows; need 2 clips and at least a batch (%d)", len(withWindows), len(wins), o.Batch)
	}

	// libtorch keeps an OpenMP pool per OS thread: drive it from one.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	torch.ManualSeed(o.Seed)
	p := torch.NewParams()
	defer p.Close()
	net := NewNet(p)
	if err := p.Err(); err != nil {
		return nil, err
	}
	opt, err := torch.NewAdam(p.Trainable(), torch.AdamDefaults(o.LR))
	if err != nil {
		return nil, err
	}
	defer opt.Close()

	rng := rand.New(rand.NewPCG(o.Seed, 0x5eed))
	video := make([]float32, o.Batch*videoLen)
	sound := make([]float32, 2*o.Batch*audioLen)
	res := &TrainResult{Clips: len(feats), Windows: len(wins)}
	var lossAvg, accAvg []float64
	start := time.Now()
	for step := 0; step < o.Steps; step++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if step == o.Steps*3/4 {
			opt.Config.LR = o.LR / 10
		}
		for b := 0; b < o.Batch; b++ {
			w := wins[rng.IntN(len(wins))]
			f := feats[w.c]
			f.putVideo(video[b*videoLen:(b+1)*videoLen], w.i, rng.IntN(2*jitter+1), rng.IntN(2*jitter+1))
			f.putAudio(sound[b*audioLen:(b+1)*audioLen], w.i)
			nf, ni := offSync(rng, feats, wins, w, o.OtherClip)
			nf.putAudio(sound[(o.Batch+b)*audioLen:(o.Batch+b+1)*audioLen], ni)
		}
		s := torch.NewScope()
		v := net.Video(torch.FromFloat32(video, int64(o.Batch), Frames, InHeight, InWidth))
		a := net.Audio(torch.FromFloat32(sound, int64(2*o.Batch), Coeffs, AudioRows))
		dSync := Distance(v, torch.Narrow(a, 0, 0, int64(o.Batch)))
		dOff := Distance(v, torch.Narrow(a, 0, int64(o.Batch), int64(o.Batch)))
		loss := ContrastiveLoss(dSync, dOff, o.Margin)
		err := loss.Backward()
		if err == nil {
			err = opt.Step()
		}
		var l float32
		var ds, do []float32
		if err == nil {
			l, err = loss.Item()
		}
		if err == nil {
			ds, err = dSync.Float32s()
		}
		if err == nil {
			do, err = dOff.Float32s()
		}
		if err == nil {
			err = opt.ZeroGrad()
		}
		s.Close()
		if err != nil {
			return nil, fmt.Errorf("syncnet: step %d: %w", step, err)
		}
		if math.IsNaN(float64(l)) || math.IsInf(float64(l), 0) {
			return nil, fmt.Errorf("syncnet: step %d: loss is %v", step, l)
		}
		right := 0
		for k := range ds {
			if ds[k] < do[k] {
				right++
			}
		}
		lossAvg = last100(lossAvg, float64(l))
		accAvg = last100(accAvg, float64(right)/float64(len(ds)))
		res.Steps = step + 1
		res.Loss, res.Accuracy = mean(lossAvg), mean(accAvg)
		rep.Report(step+1, o.Steps, fmt.Sprintf("loss %.4f acc %.3f", res.Loss, res.Accuracy))
	}
	rep.Done()
	res.Seconds = time.Since(start).Seconds()
	meta := map[string]string{
		"model": "facesynth syncnet", "steps": strconv.Itoa(res.Steps), "batch": strconv.Itoa(o.Batch),
		"lr": ftoa(o.LR), "margin": ftoa(o.Margin), "seed": strconv.FormatUint(o.Seed, 10),
		"other_clip": ftoa(o.OtherClip), "clips": strconv.Itoa(res.Clips), "windows": strconv.Itoa(res.Windows),
		"loss": ftoa(res.Loss), "pair_accuracy": ftoa(res.Accuracy),
	}
	if err := p.Save(out, meta); err != nil {
		return nil, err
	}
	return res, nil
}

// offSync picks the speech of an off-sync pair for window w: usually the
// same clip's speech 2–15 frames away (the hard case: same voice, same
// words, wrong time), sometimes another clip's.
func offSync(rng *rand.Rand, feats []*features, wins []window, w window, other float64) (*features, int) {
	f := feats[w.c]
	if rng.Float64() >= other {
		for try := 0; try < 20; try++ {
			k := 2 + rng.IntN(MaxOffset-1)
			if rng.IntN(2) == 0 {
				k = -k
			}
			if f.audioOK(w.i + k) {
				return f, w.i + k
			}
		}
	}
	for {
		o := wins[rng.IntN(len(wins))]
		if o.c != w.c {
			return feats[o.c], o.i
		}
	}
}

func last100(v []float64, x float64) []float64 {
	v = append(v, x)
	if len(v) > 100 {
		v = v[1:]
	}
	return v
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// errNoModel is the error of Load in a build without a trained scorer.
var errNoModel = errors.New("syncnet: this build carries no trained scorer (internal/syncnet/model/scorer.safetensors)")
