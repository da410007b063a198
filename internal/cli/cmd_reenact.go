package cli

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/facesynth/facesynth/internal/fewshot"
	"github.com/facesynth/facesynth/internal/portrait"
	"github.com/facesynth/facesynth/internal/progress"
	"github.com/facesynth/facesynth/internal/reenact"
	"github.com/facesynth/facesynth/internal/verify"
)

func init() {
	register(command{"reenact", "make a face in a photo or video do what a driver's face does", runReenact})
}

func runReenact(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "reenact", "--driver VIDEO --target IMG|VIDEO -o OUT.mp4 [flags]")
	driver := fs.String("driver", "", "video of the face whose expressions and head motion are copied")
	target := fs.String("target", "", "photo or video of the face that is made to move")
	out := fs.String("o", "", "output video (.mp4)")
	audioFrom := fs.String("audio", "driver", "sound of the output: driver, target or none")
	pose := fs.String("pose", "target", "video target: keep its own head motion (target) or add the driver's (driver); a photo always takes the driver's")
	var o reenact.Options
	fs.IntVar(&o.CRF, "crf", 18, "H.264 quality of the output (lower is better)")
	fs.IntVar(&o.Limit, "limit", 0, "at most N frames")
	fs.StringVar(&o.Model, "model", "", "video target: a renderer trained on it (facesynth train reenact) draws the face instead of the mesh warp")
	fs.StringVar(&o.FewShot, "fewshot", "", "a few-shot model (facesynth train fewshot): fine-tuned on the target, it draws the face over the mesh warp")
	fs.IntVar(&o.Shots, "shots", 8, "with --fewshot and a video target: K, the frames fine-tuned on (a photo is one)")
	fs.IntVar(&o.TuneSteps, "tune-steps", fewshot.DefaultTuneSteps, "with --fewshot: fine-tuning steps (0: none)")
	asJSON := fs.Bool("json", false, "progress as JSON lines")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("unexpected arguments %v", pos)
	}
	if *driver == "" || *target == "" || *out == "" {
		return usagef("want --driver VIDEO --target IMG|VIDEO -o OUT.mp4")
	}
	if o.Audio, err = reenact.ParseAudioFrom(*audioFrom); err != nil {
		return &UsageError{err.Error()}
	}
	switch *pose {
	case "target":
		o.TargetPose = true
	case "driver":
	default:
		return usagef("--pose is target or driver, not %q", *pose)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.FewShot == "" && anySet(set, "shots", "tune-steps") {
		return usagef("--shots and --tune-steps go with --fewshot")
	}
	if o.Shots < 1 || o.TuneSteps < 0 {
		return usagef("--shots must be at least 1 and --tune-steps not negative")
	}
	if verify.IsImage(*target) {
		if set["shots"] && o.Shots > 1 {
			return usagef("a photo target gives one frame to fine-tune on; --shots %d needs a video target", o.Shots)
		}
		o.Shots = 1
	}
	bar := progress.NewBar(env.Stderr, "reenact", "frames", progress.Options{JSON: *asJSON})
	s, err := reenact.Run(ctx, *driver, *target, *out, o, bar)
	if err != nil {
		return err
	}
	if t := s.Tune; t != nil {
		fmt.Fprintf(env.Stdout, "reenact: few-shot model fine-tuned on %d frames for %d steps in %.0f s (face L1 %.4f → %.4f)\n",
			t.Shots, t.Steps, t.Seconds, t.L1, t.L1Last)
	}
	fmt.Fprintf(env.Stdout, "reenact: %s\nreenact: wrote %s\n", s, s.Output)
	return nil
}

func init() { trainers["reenact"] = runTrainReenact }

// runTrainReenact trains a target video's renderer for reenact --model.
func runTrainReenact(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "train reenact", "--target VIDEO -o MODEL_DIR [flags]")
	target := fs.String("target", "", "video of the person to re-enact (the renderer learns this face)")
	out := fs.String("o", "", "model folder: checkpoint, preview.png, loss.png")
	o := portrait.Options{Config: portrait.DefaultConfig()}
	fs.IntVar(&o.Steps, "steps", 0, "train up to this step count, resumed steps included (0: no limit)")
	fs.DurationVar(&o.Duration, "time", 0, "stop after this much training time, e.g. 20m")
	fs.IntVar(&o.Config.Limit, "frames", 0, "use the first N frames of the video (0: all)")
	fs.IntVar(&o.Config.Batch, "batch", o.Config.Batch, "crops per step")
	fs.BoolVar(&o.Resume, "resume", false, "continue the checkpoint in MODEL_DIR")
	asJSON := fs.Bool("json", false, "progress as JSON lines")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *target == "" || *out == "" {
		return usagef("want --target VIDEO -o MODEL_DIR")
	}
	if o.Steps == 0 && o.Duration == 0 {
		o.Duration = 20 * time.Minute
	}
	unit := "steps"
	if o.Steps == 0 {
		unit = "s"
	}
	o.Progress = progress.NewBar(env.Stderr, "train reenact", unit, progress.Options{JSON: *asJSON})
	st, err := portrait.Train(ctx, *target, *out, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "train reenact: %d steps, %.0f s of training; model in %s (preview.png, loss.png)\n", st.Step, st.Seconds, *out)
	return nil
}
