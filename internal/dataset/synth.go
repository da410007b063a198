package dataset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/progress"
	"github.com/facesynth/facesynth/internal/speech"
	"github.com/facesynth/facesynth/internal/talk"
)

// A Clip is one talking video for Synth to render with package talk: the
// photo speaks the speech, so picture and sound are in sync by
// construction, which is what a lip-sync model needs to learn from.
type Clip struct {
	Name   string // output file name without extension
	Photo  string // an image, or VIDEO@N: frame N of a video
	Speech talk.Speech
	Seed   uint64 // blinks and head motion
	Still  bool   // no head motion
	// ViaAudio speaks Speech.Text with espeak-ng first and gives talk the
	// recording instead of the text, so the mouth is timed by recognising
	// the audio (as for a real recording) rather than by the synthesiser's
	// own phones.
	ViaAudio bool
}

// Synth renders every clip to dir/<Name>.mp4, skipping the ones that exist
// (talk writes a video under its name only when complete, so an existing
// file is a finished one). It returns the videos' paths in clip order.
func Synth(ctx context.Context, clips []Clip, dir string, rep progress.Reporter) ([]string, error) {
	if len(clips) == 0 {
		return nil, errors.New("dataset: no clips to render")
	}
	rep = progress.Of(rep)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	tmp, err := os.MkdirTemp("", "facesynth-synth-")
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	defer os.RemoveAll(tmp)
	stills := map[string]string{}
	var out []string
	for i, c := range clips {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		rep.Report(i, len(clips), c.Name)
		if c.Name == "" || strings.ContainsAny(c.Name, `/\`) {
			return out, fmt.Errorf("dataset: clip %d: bad name %q", i, c.Name)
		}
		path := filepath.Join(dir, c.Name+".mp4")
		out = append(out, path)
		if _, err := os.Stat(path); err == nil {
			continue
		}
		photo, ok := stills[c.Photo]
		if !ok {
			if photo, err = still(ctx, c.Photo, tmp, len(stills)); err != nil {
				return out, err
			}
			stills[c.Photo] = photo
		}
		sp := c.Speech
		if c.ViaAudio && sp.Text != "" {
			pcm, rate, _, err := speech.Synthesize(ctx, sp.Text, sp.Voice)
			if err != nil {
				return out, fmt.Errorf("dataset: clip %s: %w", c.Name, err)
			}
			sp = talk.Speech{Audio: filepath.Join(tmp, "speech.wav")}
			if err := media.WriteWAV(sp.Audio, pcm, rate); err != nil {
				return out, err
			}
		}
		if _, err := talk.Run(ctx, photo, sp, path, talk.Options{Seed: c.Seed, Still: c.Still, MaxSize: 640}, nil); err != nil {
			return out, fmt.Errorf("dataset: clip %s: %w", c.Name, err)
		}
	}
	rep.Report(len(clips), len(clips), "")
	rep.Done()
	return out, nil
}

// still is the photo of spec: the image itself, or for VIDEO@N frame N of
// the video saved as a PNG in tmp.
func still(ctx context.Context, spec, tmp string, k int) (string, error) {
	at := strings.LastIndexByte(spec, '@')
	if at < 0 {
		return spec, nil
	}
	n, err := strconv.Atoi(spec[at+1:])
	if err != nil || n < 0 {
		return spec, nil // an image whose name has an @ in it
	}
	r, err := media.OpenVideo(ctx, spec[:at])
	if err != nil {
		return "", err
	}
	defer r.Close()
	frame := r.NewFrame()
	for i := 0; i <= n; i++ {
		if err := r.Read(frame); err != nil {
			if errors.Is(err, io.EOF) {
				return "", fmt.Errorf("dataset: %s has no frame %d", spec[:at], n)
			}
			return "", err
		}
	}
	path := filepath.Join(tmp, fmt.Sprintf("still%d.png", k))
	if err := media.SaveImage(path, frame); err != nil {
		return "", err
	}
	return path, nil
}
