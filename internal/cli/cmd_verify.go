package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/facesynth/facesynth/internal/mark"
	"github.com/facesynth/facesynth/internal/media"
)

func init() {
	register(command{"verify", "check an image or video for facesynth's watermark and labels (exit 0 marked, 3 not)", runVerify})
}

// verifyWindow is the span of frames judged on their own besides the whole
// sample: a generated clip cut into a longer video would be diluted in
// the whole, and 2 seconds of frames are enough to find the mark.
const verifyWindow = 48

// verifyReport is verify's answer, also its --json output.
type verifyReport struct {
	File      string            `json:"file"`
	Kind      string            `json:"kind"` // "image" or "video"
	Watermark watermarkReport   `json:"watermark"`
	Labels    map[string]string `json:"labels"`    // the label entries of the file's metadata
	Synthetic bool              `json:"synthetic"` // the metadata says synthetic (it can be stripped or forged; the watermark is the evidence)
}

type watermarkReport struct {
	Found        bool    `json:"found"`
	PayloadValid bool    `json:"payload_valid"`
	Version      uint8   `json:"version"`
	ContentID    string  `json:"content_id,omitempty"`
	Confidence   float64 `json:"confidence"`
	Threshold    float64 `json:"threshold"`
	Frames       int     `json:"frames"`      // frames examined
	FirstFrame   int     `json:"first_frame"` // of the frames the decision rests on
	Scale        float64 `json:"scale"`
	Offset       [2]int  `json:"offset"`
}

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
	rep, err := verifyFile(ctx, pos[0], *maxFrames)
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

func verifyFile(ctx context.Context, path string, maxFrames int) (*verifyReport, error) {
	rep := &verifyReport{File: path, Labels: map[string]string{}}
	var res mark.Result
	var meta map[string]string
	first := 0
	if isImageFile(path) {
		img, err := media.LoadImage(path)
		if err != nil {
			return nil, err
		}
		if meta, err = media.ReadImageMeta(path); err != nil {
			return nil, err
		}
		rep.Kind, res = "image", mark.DetectImage(img)
	} else {
		r, err := media.OpenVideo(ctx, path)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		rep.Kind, meta = "video", r.Info().Tags
		if res, first, err = detectVideo(r, maxFrames); err != nil {
			return nil, err
		}
	}
	rep.Watermark = watermarkReport{
		Found: res.Found, PayloadValid: res.PayloadValid, Confidence: round2(res.Confidence),
		Threshold: mark.Threshold, Frames: res.Frames, FirstFrame: first, Scale: round2(res.Scale),
		Offset: [2]int{res.Offset.X, res.Offset.Y},
	}
	if res.PayloadValid {
		rep.Watermark.Version = res.Payload.Version
		rep.Watermark.ContentID = fmt.Sprintf("%08x", res.Payload.ContentID)
	}
	for k, v := range meta {
		if l := strings.ToLower(k); l == mark.CommentKey || l == mark.LabelKey {
			rep.Labels[k] = v
		}
	}
	_, rep.Synthetic = mark.ReadLabels(meta)
	return rep, nil
}

// detectVideo judges the frames read (up to maxFrames) as a whole and in
// windows of verifyWindow frames; the whole decides unless it finds
// nothing and a window does. It returns the result and the first frame of
// the span it rests on.
func detectVideo(r *media.Reader, maxFrames int) (mark.Result, int, error) {
	all, win := mark.NewDetector(), mark.NewDetector()
	var best mark.Result
	bestFirst, winFirst := 0, 0
	judge := func() {
		if res := win.Result(); res.Found && (!best.Found || res.Confidence > best.Confidence) {
			best, bestFirst = res, winFirst
		}
	}
	frame := r.NewFrame()
	n := 0
	for maxFrames == 0 || n < maxFrames {
		err := r.Read(frame)
		if err == io.EOF {
			break
		}
		if err != nil {
			return mark.Result{}, 0, err
		}
		all.Add(frame)
		win.Add(frame)
		n++
		if n%verifyWindow == 0 {
			judge()
			win, winFirst = mark.NewDetector(), n
		}
	}
	if n == 0 {
		return mark.Result{}, 0, fmt.Errorf("verify %s: the video has no frames", r.Info().Path)
	}
	res := all.Result()
	if res.Found || !best.Found {
		return res, 0, nil
	}
	return best, bestFirst, nil
}

// isImageFile tells PNG and JPEG files (decoded in Go, with text chunks)
// from everything else (decoded by ffmpeg) by their first bytes.
func isImageFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false // the video path reports the error
	}
	defer f.Close()
	sig, _ := bufio.NewReader(f).Peek(8)
	return bytes.HasPrefix(sig, []byte("\x89PNG\r\n\x1a\n")) || bytes.HasPrefix(sig, []byte{0xFF, 0xD8, 0xFF})
}

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

func round2(v float64) float64 { return math.Round(v*100) / 100 }
