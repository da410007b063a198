package cli

import (
	"context"
	"errors"
	"fmt"
	"github.com/facesynth/facesynth/internal/stats"
	"image"
	"io"
	"os"
	"sort"
	"time"

	"github.com/facesynth/facesynth/internal/assets"
	"github.com/facesynth/facesynth/internal/detect"
	"github.com/facesynth/facesynth/internal/extract"
	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/media"
)

// benches are the `facesynth bench NAME` jobs. Each prints RESULT lines that
// scripts and closing notes quote: "RESULT facesynth <what> median <N> <unit>".
var benches = map[string]func(ctx context.Context, env *Env, args []string) error{
	"extract": benchExtract,
}

func init() {
	register(command{"bench", "measure throughput: bench extract|train|convert", func(ctx context.Context, env *Env, args []string) error {
		if len(args) == 0 {
			return usagef("want a benchmark name: %v", benchNames())
		}
		b, ok := benches[args[0]]
		if !ok {
			return usagef("unknown benchmark %q: %v", args[0], benchNames())
		}
		return b(ctx, env, args[1:])
	}})
}

func benchNames() []string {
	var n []string
	for k := range benches {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// benchVideo is the clip a benchmark runs on: the one given, or a sample.
func benchVideo(pos []string, sample string) (string, error) {
	if len(pos) > 0 {
		return pos[0], nil
	}
	return assets.Media(sample)
}

// benchExtract times the whole extraction path (decode, detect every N
// frames, track, landmarks, align) on a clip, without writing crops, and
// the detector alone on the same frames.
func benchExtract(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "bench extract", "[VIDEO] [-frames N] [-reps R]")
	frames := fs.Int("frames", 600, "frames per repetition")
	reps := fs.Int("reps", 3, "repetitions (the median is reported)")
	every := fs.Int("detect-every", 10, "detector interval in frames")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	video, err := benchVideo(pos, "franck.mp4")
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "facesynth-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var fps []float64
	for i := 0; i < *reps; i++ {
		s, err := extract.Run(ctx, video, tmp, extract.Options{Limit: *frames, DetectEvery: *every, Smooth: true, NoCrops: true}, nil)
		if err != nil {
			return err
		}
		fps = append(fps, s.FramesPerSec)
		fmt.Fprintf(env.Stderr, "rep %d: %s\n", i+1, s)
	}
	fmt.Fprintf(env.Stdout, "RESULT facesynth extract median %.1f fps (detect every %d, %d frames, reps %v)\n", stats.Median(fps), *every, *frames, fps)

	// The detector alone, on every 10th of the same frames.
	det, err := detect.New(detect.DefaultOptions())
	if err != nil {
		return err
	}
	r, err := media.OpenVideo(ctx, video)
	if err != nil {
		return err
	}
	defer r.Close()
	var grays []*image.Gray
	buf := r.NewFrame()
	for i := 0; i < *frames; i++ {
		if err := r.Read(buf); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
		if i%10 == 0 {
			grays = append(grays, face.Gray(buf))
		}
	}
	var ms []float64
	for rep := 0; rep < *reps; rep++ {
		t := time.Now()
		for _, g := range grays {
			det.Detect(g)
		}
		ms = append(ms, float64(time.Since(t).Microseconds())/1000/float64(len(grays)))
	}
	fmt.Fprintf(env.Stdout, "RESULT facesynth detect median %.2f ms/frame (%d angles, %dx%d)\n",
		stats.Median(ms), len(det.Options().Angles), r.Info().Width, r.Info().Height)
	return nil
}
