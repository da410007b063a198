package cli

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/facesynth/facesynth/internal/fewshot"
	"github.com/facesynth/facesynth/internal/progress"
)

func init() { trainers["fewshot"] = runTrainFewShot }

// runTrainFewShot meta-learns the few-shot talking-head model on a
// multi-person dataset, for reenact --fewshot.
func runTrainFewShot(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "train fewshot", "--data DS -o META_DIR [flags]")
	data := fs.String("data", "", "dataset folder with many people's videos (facesynth dataset build)")
	out := fs.String("o", "", "model folder: checkpoint, preview.png, loss.png")
	o := fewshot.Options{Config: fewshot.DefaultConfig()}
	fs.IntVar(&o.Steps, "steps", 0, "train up to this step count, resumed steps included (0: no limit)")
	fs.DurationVar(&o.Duration, "time", 0, "stop after this much training time, e.g. 30m")
	fs.IntVar(&o.Config.Shots, "shots", o.Config.Shots, "K: frames embedded per episode")
	fs.IntVar(&o.Config.Batch, "batch", o.Config.Batch, "episodes per step")
	fs.IntVar(&o.Config.Frames, "frames", o.Config.Frames, "frames kept per video, spread over it")
	fs.Uint64Var(&o.Config.Seed, "seed", o.Config.Seed, "seed of the initial weights and of the episodes")
	fs.IntVar(&o.SaveEvery, "save-every", 200, "steps between checkpoints (and previews)")
	fs.BoolVar(&o.Resume, "resume", false, "continue the checkpoint in META_DIR (its settings are kept)")
	asJSON := fs.Bool("json", false, "progress as JSON lines")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *data == "" || *out == "" {
		return usagef("want --data DS -o META_DIR")
	}
	if o.Steps < 0 || o.Duration < 0 || o.SaveEvery < 1 {
		return usagef("--steps, --time and --save-every must be positive")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.Resume && anySet(set, "shots", "batch", "frames", "seed") {
		return usagef("--resume keeps the checkpoint's --shots, --batch, --frames and --seed")
	}
	if o.Steps == 0 && o.Duration == 0 {
		o.Duration = 30 * time.Minute
	}
	unit := "steps"
	if o.Steps == 0 {
		unit = "s"
	}
	o.Progress = progress.NewBar(env.Stderr, "train fewshot", unit, progress.Options{JSON: *asJSON})
	st, err := fewshot.MetaTrain(ctx, *data, *out, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "train fewshot: %d steps on %d videos, %.0f s of training (%.2f steps/s); model in %s (preview.png, loss.png)\n",
		st.Step, len(st.Videos), st.Seconds, float64(st.Step)/st.Seconds, *out)
	return nil
}
