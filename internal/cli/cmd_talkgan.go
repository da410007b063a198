package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/progress"
	"github.com/facesynth/facesynth/internal/speech"
	"github.com/facesynth/facesynth/internal/talk"
	"github.com/facesynth/facesynth/internal/talkgan"
)

func init() {
	trainers["talk"] = runTrainTalk
}

// runTrainTalk is `facesynth train talk`: the speech-driven GAN on a
// dataset of talking videos, with swap training's checkpoint, preview and
// resume behaviour.
func runTrainTalk(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "train talk", "--data DS -o MODEL_DIR [flags]")
	data := fs.String("data", "", "dataset of talking videos with speech (facesynth dataset build)")
	out := fs.String("o", "", "model folder for checkpoints, previews and loss curves")
	steps := fs.Int("steps", 0, "train up to this step count, resumed steps included (0: no limit)")
	dur := fs.Duration("time", 0, "stop after this much training time, e.g. 30m (0: no limit)")
	cfg := talkgan.DefaultConfig()
	fs.IntVar(&cfg.Frames, "frames", cfg.Frames, "frames per training sequence")
	fs.IntVar(&cfg.Batch, "batch", cfg.Batch, "sequences per step")
	fs.Float64Var(&cfg.LRG, "lr-g", cfg.LRG, "generator learning rate")
	fs.Float64Var(&cfg.LRD, "lr-d", cfg.LRD, "discriminators' learning rate")
	fs.Float64Var(&cfg.WL1, "l1", cfg.WL1, "weight of the lower-face L1 loss")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the weights, batches and noise")
	saveEvery := fs.Int("save-every", 200, "steps between checkpoints")
	previewEvery := fs.Int("preview-every", 50, "steps between preview.png and loss.png")
	resume := fs.Bool("resume", false, "continue the checkpoint in MODEL_DIR (its settings; the same batches follow)")
	asJSON := fs.Bool("json", false, "progress as JSON lines")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *data == "" || *out == "" {
		return usagef("want --data DS and -o MODEL_DIR")
	}
	if *steps < 0 || *dur < 0 || *saveEvery < 1 || *previewEvery < 1 {
		return usagef("--steps, --time, --save-every and --preview-every must be positive")
	}
	o := talkgan.TrainOptions{Config: cfg, Steps: *steps, Duration: *dur, SaveEvery: *saveEvery,
		PreviewEvery: *previewEvery, Resume: *resume,
		Progress: progress.NewBar(env.Stderr, "train talk", "steps", progress.Options{JSON: *asJSON})}
	res, err := talkgan.Train(ctx, *data, *out, o)
	if res != nil && res.Step > res.Start {
		fmt.Fprintf(env.Stdout, "train talk: step %d (%d this run, %.2f steps/s), G %.3f D %.3f lower-face L1 %.4f\ntrain talk: checkpoint in %s\n",
			res.Step, res.Step-res.Start, float64(res.Step-res.Start)/res.Seconds, res.Last.G, res.Last.D, res.Last.L1, *out)
	}
	return err
}

// runTalkGAN is `facesynth talk --model DIR`: the trained GAN draws the
// face instead of the animator. Text is spoken by espeak-ng first.
func runTalkGAN(ctx context.Context, env *Env, model, photo, audioIn, text, voice, out string, o talk.Options, asJSON bool) error {
	m, err := talkgan.Load(model)
	if err != nil {
		return err
	}
	defer m.Close()
	if text != "" {
		pcm, rate, _, err := speech.Synthesize(ctx, text, voice)
		if err != nil {
			return err
		}
		tmp, err := os.MkdirTemp("", "facesynth-talk-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		audioIn = filepath.Join(tmp, "speech.wav")
		if err := media.WriteWAV(audioIn, pcm, rate); err != nil {
			return err
		}
	}
	bar := progress.NewBar(env.Stderr, "talk", "frames", progress.Options{JSON: asJSON})
	s, err := m.Run(ctx, photo, audioIn, out, talkgan.Options{FPS: o.FPS, Seed: o.Seed, CRF: o.CRF}, bar)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "talk: GAN at step %d: %s\ntalk: wrote %s\n", m.Step, s, s.Output)
	return nil
}
