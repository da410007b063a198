package cli

import (
	"context"
	"fmt"

	"github.com/facesynth/facesynth/internal/progress"
	"github.com/facesynth/facesynth/internal/reenact"
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
	bar := progress.NewBar(env.Stderr, "reenact", "frames", progress.Options{JSON: *asJSON})
	s, err := reenact.Run(ctx, *driver, *target, *out, o, bar)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "reenact: %s\nreenact: wrote %s\n", s, s.Output)
	return nil
}
