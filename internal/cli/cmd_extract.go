package cli

import (
	"context"
	"fmt"

	"github.com/facesynth/facesynth/internal/extract"
	"github.com/facesynth/facesynth/internal/progress"
)

func init() {
	register(command{"extract", "write aligned face crops and alignments.json from a video, image or folder", runExtract})
}

func runExtract(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "extract", "INPUT -o DIR [flags]   (INPUT: video, image, or folder of images)")
	out := fs.String("o", "", "output folder (required)")
	var opts extract.Options
	fs.IntVar(&opts.Size, "size", 256, "aligned crop size in pixels (64–512)")
	fs.StringVar(&opts.Format, "format", "png", "crop file format: png or jpg")
	fs.IntVar(&opts.DetectEvery, "detect-every", 10, "video: run the detector every N frames (tracking in between)")
	smooth := fs.Bool("smooth", true, "video: smooth landmarks over time (One-Euro filter)")
	fs.IntVar(&opts.Stride, "every", 1, "video: keep every Nth frame")
	fs.IntVar(&opts.Limit, "limit", 0, "stop after N frames (0 = all)")
	fs.BoolVar(&opts.Masks, "masks", false, "also write DIR/masks/: landmark-hull masks of the crops")
	asJSON := fs.Bool("json", false, "progress and summary as JSON lines")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *out == "" {
		return usagef("want INPUT and -o DIR")
	}
	opts.Smooth = *smooth
	bar := progress.NewBar(env.Stderr, "extract", "frames", progress.Options{JSON: *asJSON})
	s, err := extract.Run(ctx, pos[0], *out, opts, bar)
	if err != nil {
		return err
	}
	if *asJSON {
		fmt.Fprintf(env.Stdout, `{"frames":%d,"faces":%d,"no_face":%d,"tracks":%d,"fps":%.2f,"alignments":%q}`+"\n",
			s.Frames, s.Faces, s.NoFace, s.Tracks, s.FramesPerSec, s.AlignmentsOut)
		return nil
	}
	fmt.Fprintf(env.Stdout, "extract: %s\nextract: wrote %s and %s/faces/\n", s, s.AlignmentsOut, *out)
	return nil
}
