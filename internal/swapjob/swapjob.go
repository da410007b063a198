// Package swapjob runs a whole face swap in a work folder: both face sets
// are extracted, a model is trained on them and the target is converted.
// Every stage leaves its result in the work folder, so a second run (after
// Ctrl-C, a crash or a restarted studio) reuses the face sets and resumes
// the training checkpoint instead of starting over.
//
//	work/target/   faces of the target (identity A)
//	work/source/   faces of the source (identity B)
//	work/model/    checkpoint, preview.png, loss.png (package swap)
//
// The swap command and the studio both call Run, so they behave the same.
package swapjob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/facesynth/facesynth/internal/convert"
	"github.com/facesynth/facesynth/internal/extract"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/progress"
	"github.com/facesynth/facesynth/internal/swap"
)

// Preset is a quality setting: the network, the training time and the
// number of faces taken from each video.
type Preset struct {
	Arch  string
	Train time.Duration
	Faces int
}

// Presets by name: draft finishes in minutes on a 2-core CPU, full is what
// a real swap needs (hours on a CPU, much less on a GPU).
var Presets = map[string]Preset{
	"draft": {"light", 3 * time.Minute, 300},
	"full":  {"original", 6 * time.Hour, 2000},
}

// Stage names, as given to Options.Stage.
const (
	StageExtractTarget = "extract target"
	StageExtractSource = "extract source"
	StageTrain         = "train"
	StageConvert       = "convert"
)

// Options control a swap.
type Options struct {
	Arch swap.Arch
	// Train is the training time of this run (0: no limit). With
	// TrainTotal it is the budget of all runs in the work folder
	// together, so a resumed job trains only for what is left.
	Train      time.Duration
	TrainTotal bool
	Faces      int             // faces to extract per video (spread evenly over it)
	Convert    convert.Options // Direction is always A→B (the target's faces become the source's)
	// Log receives a line as each stage ends ("swap: ..."); nil: none.
	Log io.Writer
	// Stage makes the progress reporter of each stage: one of the Stage
	// names and the unit it counts ("frames", "steps"). nil: none.
	Stage func(name, unit string) progress.Reporter
	// Hooks run during training after the built-in checkpoint and
	// preview hooks (see swap.Hook).
	Hooks []swap.Hook
}

// Summary is what Run did.
type Summary struct {
	Work    string
	Train   *swap.Result // nil when the training budget was spent by earlier runs
	Convert *convert.Summary
}

// Folders of a work folder.
func TargetDir(work string) string { return filepath.Join(work, "target") }
func SourceDir(work string) string { return filepath.Join(work, "source") }
func ModelDir(work string) string  { return filepath.Join(work, "model") }

// Run puts source's face into target, writing output (an MP4) and keeping
// its intermediate results in work. When ctx is cancelled during training,
// a checkpoint is saved first, so the next Run resumes from it.
func Run(ctx context.Context, source, target, output, work string, o Options) (*Summary, error) {
	if o.Arch.Name == "" {
		return nil, errors.New("swapjob: no architecture given")
	}
	if work == "" {
		return nil, errors.New("swapjob: no work folder given")
	}
	logf := func(format string, a ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format, a...)
		}
	}
	stage := func(name, unit string) progress.Reporter {
		if o.Stage == nil {
			return nil
		}
		return o.Stage(name, unit)
	}

	// 1. Face sets: the target's faces are identity A, the source's B, so
	// converting the target A→B draws the source's face.
	sets := []struct{ name, video, dir, stage string }{
		{"target", target, TargetDir(work), StageExtractTarget},
		{"source", source, SourceDir(work), StageExtractSource},
	}
	for _, set := range sets {
		if _, err := os.Stat(filepath.Join(set.dir, extract.FileName)); err == nil {
			logf("swap: reusing %s\n", set.dir)
			continue
		}
		info, err := media.Probe(ctx, set.video)
		if err != nil {
			return nil, err
		}
		stride := max(1, info.Frames/max(o.Faces, 1))
		s, err := extract.Run(ctx, set.video, set.dir, extract.Options{Size: o.Arch.Size * 2, Stride: stride, Smooth: true},
			stage(set.stage, "frames"))
		if err != nil {
			return nil, err
		}
		logf("swap: %s: %s\n", set.name, s)
	}

	// 2. Train, time-boxed; an existing checkpoint is resumed.
	modelDir := ModelDir(work)
	sum := &Summary{Work: work}
	st, statErr := swap.ReadState(modelDir)
	if statErr != nil && !errors.Is(statErr, swap.ErrNoCheckpoint) {
		return nil, statErr
	}
	resume := statErr == nil
	budget := o.Train
	spent := false
	if o.TrainTotal && resume && o.Train > 0 {
		budget = o.Train - time.Duration(st.Seconds*float64(time.Second))
		spent = budget <= 0
	}
	if spent {
		logf("swap: training budget of %v spent at step %d; converting\n", o.Train, st.Step)
	} else {
		topts := swap.Options{Arch: o.Arch, Duration: budget, Resume: resume, Progress: stage(StageTrain, "steps"), Hooks: o.Hooks}
		res, err := swap.Train(ctx, TargetDir(work), SourceDir(work), modelDir, topts)
		if err != nil {
			return nil, err
		}
		sum.Train = res
		logf("swap: trained %s to step %d (%.1f steps/s); previews in %s\n",
			o.Arch.Name, res.Step, res.StepsPerSecond(), modelDir)
	}

	// 3. Convert the target.
	m, err := swap.Load(modelDir)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	copts := o.Convert
	copts.Direction = swap.AToB
	s, err := convert.Run(ctx, m, target, output, copts, stage(StageConvert, "frames"))
	if err != nil {
		return nil, err
	}
	sum.Convert = s
	return sum, nil
}
