// Package verify checks an image or a video for facesynth's watermark
// (package mark) and reads its "synthetic" labels from the metadata. The
// watermark is the evidence; labels can be stripped or forged, so they are
// reported beside it, never instead of it. The verify command and the
// studio share File.
package verify

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/facesynth/facesynth/internal/mark"
	"github.com/facesynth/facesynth/internal/media"
)

// Window is the span of frames judged on their own besides the whole
// sample: a generated clip cut into a longer video would be diluted in
// the whole, and 2 seconds of frames are enough to find the mark.
const Window = 48

// Report is the answer about one file (verify --json prints it).
type Report struct {
	File      string            `json:"file"`
	Kind      string            `json:"kind"` // "image" or "video"
	Watermark Watermark         `json:"watermark"`
	Labels    map[string]string `json:"labels"`    // the label entries of the file's metadata
	Synthetic bool              `json:"synthetic"` // the metadata says synthetic (it can be stripped or forged; the watermark is the evidence)
}

// Watermark is what the detector found.
type Watermark struct {
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

// File checks path, a PNG or JPEG image or any video ffmpeg reads; of a
// video at most the first maxFrames frames (0: all).
func File(ctx context.Context, path string, maxFrames int) (*Report, error) {
	rep := &Report{File: path, Labels: map[string]string{}}
	var res mark.Result
	var meta map[string]string
	first := 0
	if IsImage(path) {
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
	rep.Watermark = Watermark{
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
// windows of Window frames; the whole decides unless it finds nothing and
// a window does. It returns the result and the first frame of the span it
// rests on.
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
		if n%Window == 0 {
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

// IsImage tells PNG and JPEG files (decoded in Go, with text chunks) from
// everything else (decoded by ffmpeg) by their first bytes.
func IsImage(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false // the video path reports the error
	}
	defer f.Close()
	sig, _ := bufio.NewReader(f).Peek(8)
	return bytes.HasPrefix(sig, []byte("\x89PNG\r\n\x1a\n")) || bytes.HasPrefix(sig, []byte{0xFF, 0xD8, 0xFF})
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
