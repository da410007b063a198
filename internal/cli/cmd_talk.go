package cli

import (
	"context"
	"fmt"
	"github.com/facesynth/facesynth/internal/stats"
	"os"
	"path/filepath"

	"github.com/facesynth/facesynth/internal/animate"
	"github.com/facesynth/facesynth/internal/assets"
	"github.com/facesynth/facesynth/internal/progress"
	"github.com/facesynth/facesynth/internal/talk"
)

func init() {
	register(command{"talk", "make the face in a photo speak an audio track or a text", runTalk})
	benches["talk"] = benchTalk
}

func runTalk(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "talk", "--photo IMG (--audio FILE | --text \"...\") -o OUT.mp4 [flags]")
	photo := fs.String("photo", "", "photo with a face (the largest face speaks)")
	audioIn := fs.String("audio", "", "speech: any audio (or video) file ffmpeg reads")
	text := fs.String("text", "", "speech: text for espeak-ng to speak instead of --audio")
	voice := fs.String("voice", "", "espeak-ng voice for --text (default en-us)")
	out := fs.String("o", "", "output video (.mp4)")
	emotion := fs.String("emotion", "neutral", "neutral, happy, sad, angry or surprised")
	o := talk.Options{}
	fs.Float64Var(&o.FPS, "fps", 25, "frame rate")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of blinks and head motion (same seed, same video)")
	fs.BoolVar(&o.Still, "still", false, "no head motion, brow emphasis or glances (mouth and blinks only)")
	fs.IntVar(&o.MaxSize, "max-size", 1280, "scale larger photos down to this many pixels on the longer side")
	fs.IntVar(&o.CRF, "crf", 18, "H.264 quality of the output (lower is better)")
	asJSON := fs.Bool("json", false, "progress as JSON lines")
	model := fs.String("model", "", "draw the face with a trained talking-head GAN (facesynth train talk) instead of the animator")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("unexpected arguments %v", pos)
	}
	if *photo == "" || *out == "" || (*audioIn == "") == (*text == "") {
		return usagef("want --photo IMG, one of --audio FILE or --text \"...\", and -o OUT.mp4")
	}
	if *model != "" {
		return runTalkGAN(ctx, env, *model, *photo, *audioIn, *text, *voice, *out, o, *asJSON)
	}
	if o.Emotion, err = animate.ParseEmotion(*emotion); err != nil {
		return &UsageError{err.Error()}
	}
	bar := progress.NewBar(env.Stderr, "talk", "frames", progress.Options{JSON: *asJSON})
	s, err := talk.Run(ctx, *photo, talk.Speech{Audio: *audioIn, Text: *text, Voice: *voice}, *out, o, bar)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "talk: %s\ntalk: wrote %s\n", s, s.Output)
	return nil
}

// benchTalk times talk end to end (speech analysis, rendering, labelling,
// encoding) on the astronaut photo speaking jfk.wav, as a multiple of real
// time.
func benchTalk(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "bench talk", "[--photo IMG] [--audio FILE] [--reps R]")
	photo := fs.String("photo", "", "photo (default: the astronaut sample, 512x512)")
	audioIn := fs.String("audio", "", "speech (default: the jfk.wav sample, 11 s)")
	reps := fs.Int("reps", 3, "repetitions (the median is reported)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	var err error
	if *photo == "" {
		if *photo, err = assets.Media("astronaut.png"); err != nil {
			return err
		}
	}
	if *audioIn == "" {
		if *audioIn, err = assets.Media("jfk.wav"); err != nil {
			return err
		}
	}
	tmp, err := os.MkdirTemp("", "facesynth-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var speed []float64
	var last *talk.Summary
	for i := 0; i < *reps; i++ {
		s, err := talk.Run(ctx, *photo, talk.Speech{Audio: *audioIn}, filepath.Join(tmp, "out.mp4"), talk.Options{}, nil)
		if err != nil {
			return err
		}
		speed = append(speed, s.Speed())
		last = s
		fmt.Fprintf(env.Stderr, "rep %d: %s\n", i+1, s)
	}
	fmt.Fprintf(env.Stdout, "RESULT facesynth talk %dx%d median %.1fx real time (%.0f fps; reps %.1f)\n",
		last.Size.X, last.Size.Y, stats.Median(speed), stats.Median(speed)*25, speed)
	return nil
}
