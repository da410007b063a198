package cli

import (
	"context"
	"fmt"
	"github.com/facesynth/facesynth/internal/stats"
	"os"
	"path/filepath"

	"github.com/facesynth/facesynth/internal/blend"
	"github.com/facesynth/facesynth/internal/convert"
	"github.com/facesynth/facesynth/internal/progress"
	"github.com/facesynth/facesynth/internal/swap"
)

func init() {
	register(command{"convert", "swap the faces of a video with a trained model", runConvert})
}

// convertFlags are the flags convert and swap share.
type convertFlags struct {
	direction, mask, color, blend string
	opts                          convert.Options
}

func (c *convertFlags) add(fs interface {
	StringVar(*string, string, string, string)
	IntVar(*int, string, int, string)
	Float64Var(*float64, string, float64, string)
}) {
	fs.StringVar(&c.direction, "direction", "a2b", "a2b: A's faces become B's; b2a: the other way")
	fs.StringVar(&c.mask, "mask", "both", "blend mask: learned, hull, or both (their intersection)")
	fs.StringVar(&c.color, "color", "reinhard", "colour matching: reinhard (Lab mean/std), histogram, none")
	fs.StringVar(&c.blend, "blend", "poisson", "blending: poisson (seamless) or alpha (feathered)")
	fs.IntVar(&c.opts.Erode, "erode", 0, "erode the mask by N px of the working crop (0: crop/32)")
	fs.IntVar(&c.opts.Feather, "feather", 0, "feather the mask edge by N px (0: crop/16)")
	fs.Float64Var(&c.opts.Smoothing, "color-smoothing", 0.3, "weight of each new frame in the running colour statistics (1: none)")
	fs.IntVar(&c.opts.CRF, "crf", 18, "H.264 quality of the output (lower is better)")
	fs.IntVar(&c.opts.Limit, "limit", 0, "convert only the first N frames")
}

func (c *convertFlags) options() (convert.Options, error) {
	o := c.opts
	var err error
	switch c.direction {
	case "a2b":
		o.Direction = swap.AToB
	case "b2a":
		o.Direction = swap.BToA
	default:
		return o, usagef("--direction is a2b or b2a, not %q", c.direction)
	}
	if o.Mask, err = convert.ParseMaskMode(c.mask); err != nil {
		return o, &UsageError{err.Error()}
	}
	if o.Blend, err = convert.ParseBlendMode(c.blend); err != nil {
		return o, &UsageError{err.Error()}
	}
	if o.Color, err = blend.ParseColorMode(c.color); err != nil {
		return o, &UsageError{err.Error()}
	}
	return o, nil
}

func runConvert(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "convert", "--model MODEL_DIR --input VIDEO -o OUT.mp4 [flags]")
	modelDir := fs.String("model", "", "trained model folder (facesynth train -o)")
	input := fs.String("input", "", "video to convert")
	out := fs.String("o", "", "output video (.mp4)")
	asJSON := fs.Bool("json", false, "progress as JSON lines")
	var cf convertFlags
	cf.add(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 1 && *input == "" {
		*input = pos[0]
	} else if len(pos) != 0 {
		return usagef("unexpected arguments %v", pos)
	}
	if *modelDir == "" || *input == "" || *out == "" {
		return usagef("want --model MODEL_DIR --input VIDEO -o OUT.mp4")
	}
	opts, err := cf.options()
	if err != nil {
		return err
	}
	m, err := swap.Load(*modelDir)
	if err != nil {
		return err
	}
	defer m.Close()
	bar := progress.NewBar(env.Stderr, "convert", "frames", progress.Options{JSON: *asJSON})
	s, err := convert.Run(ctx, m, *input, *out, opts, bar)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "convert: %s\nconvert: wrote %s\n", s, s.Output)
	return nil
}

func init() { benches["convert"] = benchConvert }

// benchConvert times convert end to end (decode, track, swap, blend,
// label, encode) on a sample clip. Without --model it uses a freshly
// initialised network of --arch: the same work per frame as a trained one.
func benchConvert(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "bench convert", "[VIDEO] [--arch light|original] [--model DIR] [--frames N] [--reps R]")
	archName := fs.String("arch", "light", "network when no --model is given")
	modelDir := fs.String("model", "", "trained model folder (optional)")
	frames := fs.Int("frames", 200, "frames per repetition")
	reps := fs.Int("reps", 3, "repetitions (the median is reported)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	video, err := benchVideo(pos, "cap13_edit2.mp4")
	if err != nil {
		return err
	}
	var m *swap.Model
	if *modelDir != "" {
		m, err = swap.Load(*modelDir)
	} else {
		var a swap.Arch
		if a, err = swap.ArchByName(*archName); err != nil {
			return usagef("%v", err)
		}
		m, err = swap.New(a)
	}
	if err != nil {
		return err
	}
	defer m.Close()
	tmp, err := os.MkdirTemp("", "facesynth-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var fps []float64
	for i := 0; i < *reps; i++ {
		s, err := convert.Run(ctx, m, video, filepath.Join(tmp, "out.mp4"), convert.Options{Limit: *frames}, nil)
		if err != nil {
			return err
		}
		fps = append(fps, s.FPS)
		fmt.Fprintf(env.Stderr, "rep %d: %s\n", i+1, s)
	}
	fmt.Fprintf(env.Stdout, "RESULT facesynth convert %s median %.1f fps (%d frames, reps %v)\n", m.Arch.Name, stats.Median(fps), *frames, fps)
	return nil
}
