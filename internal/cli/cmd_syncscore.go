package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"

	"github.com/facesynth/facesynth/internal/dataset"
	"github.com/facesynth/facesynth/internal/progress"
	"github.com/facesynth/facesynth/internal/syncnet"
)

func init() {
	register(command{"sync-score", "estimate how far a video's speech is off its lips (frames) and how sure that is", runSyncScore})
	trainers["sync"] = runTrainSync
}

// syncReport is sync-score's answer, also its --json output.
type syncReport struct {
	File string `json:"file"`
	*syncnet.Result
	InSync bool `json:"in_sync"` // |offset| ≤ 1 frame
}

func runSyncScore(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "sync-score", "VIDEO... [--json] [--model FILE] | --data DS [--shift N]")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	modelFile := fs.String("model", "", "scorer weights (default: the scorer shipped in facesynth)")
	data := fs.String("data", "", "evaluate the scorer on a dataset of in-sync samples instead (offsets, shifts, shuffled speech)")
	shift := fs.Int("shift", 5, "with --data: the audio shift, in frames, the scorer must find")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if (len(pos) == 0) == (*data == "") {
		return usagef("want VIDEO... or --data DS")
	}
	if *shift < 1 || *shift > syncnet.MaxOffset-1 {
		return usagef("--shift %d: want 1..%d", *shift, syncnet.MaxOffset-1)
	}
	sc, err := loadScorer(*modelFile)
	if err != nil {
		return err
	}
	defer sc.Close()
	if *data != "" {
		return evalSync(env, sc, *data, *shift, *asJSON)
	}
	for _, path := range pos {
		bar := progress.NewBar(env.Stderr, "sync-score", "frames", progress.Options{JSON: *asJSON})
		clip, err := syncnet.ReadVideo(ctx, path, bar)
		if err != nil {
			return err
		}
		res, err := sc.Score(clip)
		if err != nil {
			return err
		}
		rep := syncReport{File: path, Result: res, InSync: res.Offset >= -1 && res.Offset <= 1}
		if *asJSON {
			b, err := json.Marshal(rep)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "%s\n", b)
			continue
		}
		printSync(env.Stdout, rep)
	}
	return nil
}

func loadScorer(file string) (*syncnet.Scorer, error) {
	if file == "" {
		return syncnet.Load()
	}
	return syncnet.LoadFile(file)
}

func printSync(w io.Writer, r syncReport) {
	verdict := "in sync"
	switch {
	case r.Offset > 1:
		verdict = "the sound comes late"
	case r.Offset < -1:
		verdict = "the sound comes early"
	}
	fmt.Fprintf(w, "%s: offset %+d frames (%+.2f s): %s; confidence %.3f (min distance %.3f, median %.3f, %d windows)\n",
		filepath.Base(r.File), r.Offset, r.Seconds, verdict, r.Confidence, r.MinDist, r.MedianDist, r.Windows)
}

func evalSync(env *Env, sc *syncnet.Scorer, dir string, shift int, asJSON bool) error {
	samples, err := dataset.Open(dir)
	if err != nil {
		return err
	}
	var clips []*syncnet.Clip
	for _, s := range samples {
		c, err := syncnet.ReadSample(s)
		if err != nil {
			return err
		}
		clips = append(clips, c)
	}
	ev, err := sc.Evaluate(clips, shift)
	if err != nil {
		return err
	}
	if asJSON {
		b, err := json.MarshalIndent(ev, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%s\n", b)
		return nil
	}
	for _, c := range ev.PerClip {
		fmt.Fprintf(env.Stdout, "%-12s offset %+3d (conf %.3f)  %+d early → %+3d  %+d late → %+3d  shuffled conf %.3f at %+d\n",
			c.Name, c.Offset, c.Confidence, -shift, c.Early, shift, c.Late, c.Shuffled, c.ShuffledAt)
	}
	fmt.Fprintf(env.Stdout, "sync-score: %s\n", ev)
	return nil
}

// runTrainSync is `facesynth train sync`: the lip-sync scorer on a dataset
// of in-sync talking videos.
func runTrainSync(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "train sync", "--data DS -o MODEL.safetensors [flags]")
	data := fs.String("data", "", "dataset of in-sync talking videos (facesynth dataset build)")
	out := fs.String("o", "", "output weights (safetensors)")
	var o syncnet.TrainOptions
	fs.IntVar(&o.Steps, "steps", 3000, "optimiser steps")
	fs.IntVar(&o.Batch, "batch", 64, "in-sync pairs per step (each with an off-sync pair)")
	fs.Float64Var(&o.LR, "lr", 1e-3, "Adam learning rate (a tenth of it for the last quarter)")
	fs.Float64Var(&o.Margin, "margin", 1, "contrastive margin (embedding distances lie in [0, 2])")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of the initial weights and the batches")
	eval := fs.String("eval", "", "dataset of held-out in-sync videos to evaluate on afterwards")
	asJSON := fs.Bool("json", false, "progress as JSON lines")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *data == "" || *out == "" {
		return usagef("want --data DS and -o MODEL.safetensors")
	}
	samples, err := dataset.Open(*data)
	if err != nil {
		return err
	}
	var clips []*syncnet.Clip
	for _, s := range samples {
		c, err := syncnet.ReadSample(s)
		if err != nil {
			return err
		}
		clips = append(clips, c)
	}
	o.Progress = progress.NewBar(env.Stderr, "train sync", "steps", progress.Options{JSON: *asJSON})
	res, err := syncnet.Train(ctx, clips, *out, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "train sync: %s\ntrain sync: wrote %s\n", res, *out)
	if *eval == "" {
		return nil
	}
	sc, err := syncnet.LoadFile(*out)
	if err != nil {
		return err
	}
	defer sc.Close()
	return evalSync(env, sc, *eval, 5, false)
}
