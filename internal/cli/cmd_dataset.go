package cli

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/facesynth/facesynth/internal/assets"
	"github.com/facesynth/facesynth/internal/dataset"
	"github.com/facesynth/facesynth/internal/progress"
)

func init() {
	register(command{"dataset", "build aligned speech+face training samples from talking videos (build, synth)", runDataset})
}

func runDataset(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return usagef("want a subcommand: dataset build VIDEOS... -o DS, or dataset synth --split train|test -o DIR")
	}
	switch args[0] {
	case "build":
		return runDatasetBuild(ctx, env, args[1:])
	case "synth":
		return runDatasetSynth(ctx, env, args[1:])
	}
	return usagef("unknown dataset subcommand %q (build or synth)", args[0])
}

func runDatasetBuild(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "dataset build", "VIDEO... -o DS [--detect-every N] [--json]")
	out := fs.String("o", "", "dataset folder (created; samples already in it are kept and skipped)")
	var opts dataset.Options
	fs.IntVar(&opts.DetectEvery, "detect-every", 10, "run the face detector every N frames (tracking in between)")
	asJSON := fs.Bool("json", false, "progress and summary as JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 || *out == "" {
		return usagef("want VIDEO... and -o DS")
	}
	bar := progress.NewBar(env.Stderr, "dataset", "videos", progress.Options{JSON: *asJSON})
	s, err := dataset.Build(ctx, pos, *out, opts, bar)
	if err != nil {
		return err
	}
	if *asJSON {
		b, _ := json.Marshal(map[string]any{"built": s.Built, "skipped": s.Skipped, "frames": s.Frames, "samples": s.Samples})
		fmt.Fprintf(env.Stdout, "%s\n", b)
		return nil
	}
	fmt.Fprintf(env.Stdout, "dataset: %s\ndataset: samples in %s\n", s, *out)
	return nil
}

func runDatasetSynth(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "dataset synth", "--split train|test -o DIR [--media DIR]")
	out := fs.String("o", "", "folder for the rendered videos (existing ones are kept)")
	split := fs.String("split", "train", "which clips: train (90) or test (9, held out: other photos, sentences and voices)")
	mediaDir := fs.String("media", assets.MediaDir(), "folder with the sample media (scripts/fetch-media.sh)")
	asJSON := fs.Bool("json", false, "progress as JSON lines")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *out == "" {
		return usagef("want --split and -o DIR")
	}
	clips, err := dataset.Recipe(*mediaDir, dataset.Split(*split))
	if err != nil {
		return &UsageError{err.Error()}
	}
	bar := progress.NewBar(env.Stderr, "synth", "clips", progress.Options{JSON: *asJSON})
	videos, err := dataset.Synth(ctx, clips, *out, bar)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "dataset synth: %d talking videos (%s split) in %s\n", len(videos), *split, *out)
	return nil
}
