package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"

	"github.com/facesynth/facesynth/internal/verify"
)

func init() {
	register(command{"verify", "check an image or video for facesynth's watermark and labels (exit 0 marked, 3 not)", runVerify})
}

// verifyReport is verify's answer, also its --json output.
type verifyReport = verify.Report

func runVerify(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "verify", "FILE [--json] [--frames N]")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	maxFrames := fs.Int("frames", 480, "video: examine at most the first N frames (0 = all)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one FILE, got %d arguments", len(pos))
	}
	if *maxFrames < 0 {
		return usagef("--frames %d: want 0 (all) or more", *maxFrames)
	}
	rep, err := verify.File(ctx, pos[0], *maxFrames)
	if err != nil {
		return err
	}
	if *asJSON {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%s\n", b)
	} else {
		printVerify(env.Stdout, rep)
	}
	if !rep.Watermark.Found {
		return exitCode(3)
	}
	return nil
}

// isImageFile tells PNG and JPEG files (decoded in Go) from everything
// else (decoded by ffmpeg).
func isImageFile(path string) bool { return verify.IsImage(path) }

func printVerify(w io.Writer, rep *verifyReport) {
	name := filepath.Base(rep.File)
	wm := rep.Watermark
	frames := ""
	if rep.Kind == "video" {
		frames = fmt.Sprintf(", %d frames from frame %d", wm.Frames, wm.FirstFrame)
	}
	if wm.Found {
		payload := "payload unreadable"
		if wm.PayloadValid {
			payload = fmt.Sprintf("payload v%d/%s", wm.Version, wm.ContentID)
		}
		fmt.Fprintf(w, "%s: facesynth watermark found: %s, confidence z=%.1f (threshold %.1f)%s, scale %.2f, offset %d,%d\n",
			name, payload, wm.Confidence, wm.Threshold, frames, wm.Scale, wm.Offset[0], wm.Offset[1])
	} else {
		fmt.Fprintf(w, "%s: no facesynth watermark found (confidence z=%.1f, threshold %.1f%s)\n", name, wm.Confidence, wm.Threshold, frames)
	}
	if len(rep.Labels) == 0 {
		fmt.Fprintln(w, "  metadata: no labels")
		return
	}
	say := "labelled synthetic"
	if !rep.Synthetic {
		say = "no synthetic label"
	}
	fmt.Fprintf(w, "  metadata: %s\n", say)
	keys := make([]string, 0, len(rep.Labels))
	for k := range rep.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "    %s: %s\n", k, oneLine(rep.Labels[k]))
	}
}
