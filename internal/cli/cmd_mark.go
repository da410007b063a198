package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/facesynth/facesynth/internal/mark"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/progress"
)

func init() {
	register(command{"mark", "label an existing image or video: invisible watermark plus metadata", runMark})
}

// runMark labels a file the way facesynth's generating commands label their
// outputs. There is deliberately no flag to leave the watermark out.
func runMark(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "mark", "IN OUT [--id HEX] [--crf N]   (images: .png/.jpg out; videos: .mp4 out)")
	id := fs.String("id", "", "content id to embed, 8 hex digits (default: random)")
	crf := fs.Int("crf", media.DefaultCRF, "video: x264 quality of the output (1..51, lower is better)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("want IN and OUT, got %d arguments", len(pos))
	}
	p := mark.NewPayload()
	if *id != "" {
		v, err := strconv.ParseUint(*id, 16, 32)
		if err != nil {
			return usagef("--id %q: want up to 8 hex digits", *id)
		}
		p.ContentID = uint32(v)
	}
	in, out := pos[0], pos[1]
	labels := mark.Labels(p, "mark")
	if isImageFile(in) {
		img, err := media.LoadImage(in)
		if err != nil {
			return err
		}
		mark.NewEmbedder(p).Embed(img)
		if err := media.SaveImageMeta(out, img, labels); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "mark: wrote %s (%dx%d), watermark %s, labelled synthetic\n", out, img.Rect.Dx(), img.Rect.Dy(), p)
		return nil
	}
	n, err := markVideo(ctx, env, in, out, p, *crf, labels)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "mark: wrote %s (%d frames), watermark %s, labelled synthetic\n", out, n, p)
	return nil
}

func markVideo(ctx context.Context, env *Env, in, out string, p mark.Payload, crf int, labels map[string]string) (int, error) {
	r, err := media.OpenVideo(ctx, in)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	info := r.Info()
	opts := media.WriterOptions{FPS: info.FPS, CRF: crf, Metadata: labels}
	if opts.FPS <= 0 {
		opts.FPS = 25 // a stream without a rate (a single picture): any rate will do
	}
	if info.HasAudio {
		opts.Audio = in // keep the sound
	}
	w, err := media.CreateVideo(ctx, out, info.Width, info.Height, opts)
	if err != nil {
		return 0, err
	}
	defer w.Abort() // no-op after a successful Close
	bar := progress.NewBar(env.Stderr, "mark", "frames", progress.Options{})
	e := mark.NewEmbedder(p)
	frame := r.NewFrame()
	for {
		err := r.Read(frame)
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
		e.Embed(frame)
		if err := w.Write(frame); err != nil {
			return 0, err
		}
		bar.Report(r.FramesRead(), info.Frames, "")
	}
	bar.Done()
	if err := w.Close(); err != nil {
		return 0, err
	}
	return r.FramesRead(), nil
}
