package cli

import (
	"context"
	"flag"
	"fmt"
	"github.com/facesynth/facesynth/internal/stats"
	"strings"
	"time"

	"github.com/facesynth/facesynth/internal/progress"
	"github.com/facesynth/facesynth/internal/swap"
)

func init() {
	register(command{"train", "train a model: swap (default), reenact, talk or sync; see facesynth train KIND -h", runTrain})
	benches["train"] = benchTrain
	trainers["swap"] = runTrainSwap
}

// trainers are train's kinds, by name: `facesynth train reenact ...`.
// Without a kind, train trains a face-swap model.
var trainers = map[string]func(ctx context.Context, env *Env, args []string) error{}

func runTrain(ctx context.Context, env *Env, args []string) error {
	if len(args) > 0 {
		if t, ok := trainers[args[0]]; ok {
			return t(ctx, env, args[1:])
		}
	}
	return runTrainSwap(ctx, env, args)
}

func runTrainSwap(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "train", "[swap] --a DIR_A --b DIR_B -o MODEL_DIR [flags]")
	dirA := fs.String("a", "", "extract folder of identity A (required)")
	dirB := fs.String("b", "", "extract folder of identity B (required)")
	out := fs.String("o", "", "model folder for checkpoints, previews and loss curves (required)")
	archName := fs.String("arch", "original", "network: "+strings.Join(swap.ArchNames, ", "))
	steps := fs.Int("steps", 0, "train up to this step count, resumed steps included (0: no limit)")
	dur := fs.Duration("time", 0, "stop after this much training time, e.g. 30m (0: no limit)")
	cfg := swap.DefaultConfig()
	fs.IntVar(&cfg.Batch, "batch", cfg.Batch, "faces per identity per step")
	fs.Float64Var(&cfg.LR, "lr", cfg.LR, "Adam learning rate (β = 0.5, 0.999 as DeepFakes)")
	fs.Float64Var(&cfg.DSSIM, "dssim", cfg.DSSIM, "weight of DSSIM added to the face L1 loss (0: L1 only)")
	fs.Float64Var(&cfg.MaskWeight, "mask-weight", cfg.MaskWeight, "weight of the learned mask's loss")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the initial weights and of the batches")
	previewEvery := fs.Int("preview-every", 100, "steps between preview.png and loss.png")
	saveEvery := fs.Int("save-every", 500, "steps between checkpoints")
	resume := fs.Bool("resume", false, "continue the checkpoint in MODEL_DIR (same step count and optimizer state)")
	asJSON := fs.Bool("json", false, "progress as JSON lines")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *dirA == "" || *dirB == "" || *out == "" {
		return usagef("want --a DIR_A --b DIR_B -o MODEL_DIR")
	}
	if *steps < 0 || *dur < 0 || *previewEvery < 1 || *saveEvery < 1 {
		return usagef("--steps, --time, --preview-every and --save-every must be positive")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	opts := swap.Options{Steps: *steps, Duration: *dur, PreviewEvery: *previewEvery, SaveEvery: *saveEvery,
		Resume: *resume, Config: cfg}
	// A resumed run keeps the checkpoint's architecture and
	// hyper-parameters unless they are given again (then the architecture
	// must match; changed hyper-parameters apply from now on).
	if !*resume || set["arch"] {
		if opts.Arch, err = swap.ArchByName(*archName); err != nil {
			return usagef("%v", err)
		}
	}
	if *resume && !anySet(set, "batch", "lr", "dssim", "mask-weight", "seed") {
		opts.Config = swap.Config{}
	} else if *resume {
		st, err := swap.ReadState(*out)
		if err != nil {
			return err
		}
		opts.Config = st.Config
		if set["batch"] {
			opts.Config.Batch = cfg.Batch
		}
		if set["lr"] {
			opts.Config.LR = cfg.LR
		}
		if set["dssim"] {
			opts.Config.DSSIM = cfg.DSSIM
		}
		if set["mask-weight"] {
			opts.Config.MaskWeight = cfg.MaskWeight
		}
		if set["seed"] {
			opts.Config.Seed = cfg.Seed
		}
	}
	opts.Progress = progress.NewBar(env.Stderr, "train", "steps", progress.Options{JSON: *asJSON})
	res, err := swap.Train(ctx, *dirA, *dirB, *out, opts)
	if res != nil && res.Step > res.Start {
		fmt.Fprintf(env.Stdout, "train: %s, step %d (%d this run, %.2f steps/s), loss A %.4f B %.4f\n",
			res.Arch.Name, res.Step, res.Step-res.Start, res.StepsPerSecond(), res.Last.A, res.Last.B)
		if res.Checkpoint != "" {
			fmt.Fprintf(env.Stdout, "train: checkpoint %s\n", res.Checkpoint)
		}
	} else if res != nil && err == nil {
		fmt.Fprintf(env.Stdout, "train: %s is at step %d already (--steps %d)\n", *out, res.Step, *steps)
	}
	return err
}

func anySet(set map[string]bool, names ...string) bool {
	for _, n := range names {
		if set[n] {
			return true
		}
	}
	return false
}

// benchTrain times the swap model's training step with the protocol of
// /work/shared/bench/deepfakes_reference.py (batch 16, 64×64 random
// tensors, 3 warm-up steps, 3 repetitions of 5 steps, L1 on RGB, Adam lr
// 5e-5), so its figure sits next to PyTorch's.
func benchTrain(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "bench train", "[--arch original|light|hd128] [--mode train|infer|both]")
	archName := fs.String("arch", "light", "network: "+strings.Join(swap.ArchNames, ", "))
	mode := fs.String("mode", "train", "train, infer or both")
	c := swap.DefaultBench
	fs.IntVar(&c.Batch, "batch", c.Batch, "faces per step")
	fs.IntVar(&c.Warmup, "warmup", c.Warmup, "untimed steps first")
	fs.IntVar(&c.Iters, "iters", c.Iters, "steps per repetition")
	fs.IntVar(&c.Reps, "reps", c.Reps, "repetitions (the median is reported)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	a, err := swap.ArchByName(*archName)
	if err != nil {
		return usagef("%v", err)
	}
	var modes []string
	switch *mode {
	case "train", "infer":
		modes = []string{*mode}
	case "both":
		modes = []string{"train", "infer"}
	default:
		return usagef("unknown --mode %q (train, infer or both)", *mode)
	}
	for _, md := range modes {
		t0 := time.Now()
		run := swap.BenchTrain
		if md == "infer" {
			run = swap.BenchInfer
		}
		rates, err := run(ctx, a, c)
		if err != nil {
			return err
		}
		lo, hi := rates[0], rates[0]
		for _, r := range rates {
			lo, hi = min(lo, r), max(hi, r)
		}
		fmt.Fprintf(env.Stdout, "RESULT facesynth %s %s median %.2f img/s (min %.2f max %.2f, batch %d, %.1fs)\n",
			a.Name, md, stats.Median(rates), lo, hi, c.Batch, time.Since(t0).Seconds())
	}
	return nil
}
