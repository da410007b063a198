package cli

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/facesynth/facesynth/internal/progress"
	"github.com/facesynth/facesynth/internal/swap"
	"github.com/facesynth/facesynth/internal/swapjob"
)

func init() {
	register(command{"swap", "end to end: put SOURCE's face into TARGET (extract, train, convert)", runSwap})
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
	q, ok := swapjob.Presets[*quality]
	if !ok {
		return usagef("--quality is draft or full, not %q", *quality)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["arch"] {
		q.Arch = *arch
	}
	if set["time"] {
		q.Train = *dur
	}
	if set["faces"] {
		q.Faces = *faces
	}
	a, err := swap.ArchByName(q.Arch)
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
	sum, err := swapjob.Run(ctx, source, target, *out, *work, swapjob.Options{
		Arch: a, Train: q.Train, Faces: q.Faces, Convert: opts, Log: env.Stderr,
		Stage: func(name, unit string) progress.Reporter {
			return progress.NewBar(env.Stderr, name, unit, progress.Options{JSON: *asJSON})
		},
	})
	if err != nil {
		return err
	}
	s := sum.Convert
	fmt.Fprintf(env.Stdout, "swap: %s\nswap: wrote %s (work folder %s)\n", s, s.Output, *work)
	return nil
}
