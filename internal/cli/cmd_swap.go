package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/facesynth/facesynth/internal/convert"
	"github.com/facesynth/facesynth/internal/extract"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/progress"
	"github.com/facesynth/facesynth/internal/swap"
)

func init() {
	register(command{"swap", "end to end: put SOURCE's face into TARGET (extract, train, convert)", runSwap})
}

// swapQuality presets: draft finishes in minutes on a 2-core CPU, full is
// what a real swap needs (hours on a CPU, much less on a GPU).
var swapQuality = map[string]struct {
	arch  string
	train time.Duration
	faces int
}{
	"draft": {"light", 3 * time.Minute, 300},
	"full":  {"original", 6 * time.Hour, 2000},
}

func runSwap(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "swap", "SOURCE TARGET -o OUT.mp4 [flags]")
	out := fs.String("o", "", "output video (.mp4)")
	work := fs.String("work", "", "work folder for face sets and the model; a second run resumes it (default OUT.work)")
	quality := fs.String("quality", "draft", "draft (light model, minutes) or full (original model, hours)")
	arch := fs.String("arch", "", "network (overrides --quality): "+strings.Join(swap.ArchNames, ", "))
	dur := fs.Duration("time", 0, "training time of this run (overrides --quality), e.g. 20m")
	faces := fs.Int("faces", 0, "faces to extract per video (overrides --quality)")
	asJSON := fs.Bool("json", false, "progress as JSON lines")
	var cf convertFlags
	cf.add(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || *out == "" {
		return usagef("want SOURCE TARGET -o OUT.mp4")
	}
	q, ok := swapQuality[*quality]
	if !ok {
		return usagef("--quality is draft or full, not %q", *quality)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["arch"] {
		q.arch = *arch
	}
	if set["time"] {
		q.train = *dur
	}
	if set["faces"] {
		q.faces = *faces
	}
	a, err := swap.ArchByName(q.arch)
	if err != nil {
		return usagef("%v", err)
	}
	opts, err := cf.options()
	if err != nil {
		return err
	}
	source, target := pos[0], pos[1]
	if *work == "" {
		*work = strings.TrimSuffix(*out, filepath.Ext(*out)) + ".work"
	}
	bar := func(label, unit string) *progress.Bar {
		return progress.NewBar(env.Stderr, label, unit, progress.Options{JSON: *asJSON})
	}

	// 1. Face sets: the target's faces are identity A, the source's B, so
	// converting the target A→B draws the source's face.
	sets := map[string]string{"target": target, "source": source}
	for _, name := range []string{"target", "source"} {
		dir := filepath.Join(*work, name)
		if _, err := os.Stat(filepath.Join(dir, extract.FileName)); err == nil {
			fmt.Fprintf(env.Stderr, "swap: reusing %s\n", dir)
			continue
		}
		info, err := media.Probe(ctx, sets[name])
		if err != nil {
			return err
		}
		stride := max(1, info.Frames/max(q.faces, 1))
		s, err := extract.Run(ctx, sets[name], dir, extract.Options{Size: a.Size * 2, Stride: stride, Smooth: true},
			bar("extract "+name, "frames"))
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stderr, "swap: %s: %s\n", name, s)
	}

	// 2. Train, time-boxed; an existing checkpoint is resumed.
	modelDir := filepath.Join(*work, "model")
	_, statErr := os.Stat(filepath.Join(modelDir, swap.StateFile))
	resume := statErr == nil
	topts := swap.Options{Arch: a, Duration: q.train, Resume: resume, Progress: bar("train", "steps")}
	res, err := swap.Train(ctx, filepath.Join(*work, "target"), filepath.Join(*work, "source"), modelDir, topts)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "swap: trained %s to step %d (%.1f steps/s); previews in %s\n",
		a.Name, res.Step, res.StepsPerSecond(), modelDir)

	// 3. Convert the target.
	m, err := swap.Load(modelDir)
	if err != nil {
		return err
	}
	defer m.Close()
	opts.Direction = swap.AToB
	s, err := convert.Run(ctx, m, target, *out, opts, bar("convert", "frames"))
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "swap: %s\nswap: wrote %s (work folder %s)\n", s, s.Output, *work)
	return nil
}
