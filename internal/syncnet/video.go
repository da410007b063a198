package syncnet

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"path/filepath"

	"github.com/facesynth/facesynth/internal/analyze"
	"github.com/facesynth/facesynth/internal/dataset"
	"github.com/facesynth/facesynth/internal/detect"
	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/landmark"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/progress"
	"github.com/facesynth/facesynth/internal/track"
)

// ReadVideo reads what the scorer needs of a video with a soundtrack: the
// speech at dataset.AudioRate, and every frame's mouth, tracked and
// aligned as `facesynth dataset build` does (extract's tracker settings,
// the same mouth region), so a video is scored on the input the scorer
// learned from. With several faces it follows the one seen in most
// frames.
func ReadVideo(ctx context.Context, path string, rep progress.Reporter) (*Clip, error) {
	rep = progress.Of(rep)
	info, err := media.Probe(ctx, path)
	if err != nil {
		return nil, err
	}
	if !info.HasVideo {
		return nil, fmt.Errorf("syncnet: %s: no video stream", path)
	}
	if !info.HasAudio {
		return nil, fmt.Errorf("syncnet: %s: no audio track to check the lips against", path)
	}
	pcm, err := media.ReadAudio(ctx, path, dataset.AudioRate)
	if err != nil {
		return nil, err
	}
	det, err := detect.New(detect.DefaultOptions())
	if err != nil {
		return nil, err
	}
	pred, err := landmark.Default()
	if err != nil {
		return nil, err
	}
	an := analyze.New(det, pred)
	r, err := media.OpenVideo(ctx, path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	fps := r.Info().FPS
	if !(fps > 0) {
		return nil, fmt.Errorf("syncnet: %s: unknown frame rate", path)
	}
	tr := track.New(det, an, track.Options{Smooth: true, FPS: fps})
	byTrack := map[int][]*image.Gray{} // track id → mouth per frame so far
	frame := r.NewFrame()
	n := 0
	for {
		if err := r.Read(frame); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, err
		}
		for _, f := range tr.Update(face.Gray(frame)) {
			m := dataset.Mouth(frame, f.Landmarks)
			if m == nil {
				continue
			}
			ms := byTrack[f.Track]
			for len(ms) < n {
				ms = append(ms, nil)
			}
			byTrack[f.Track] = append(ms, m)
		}
		n++
		rep.Report(n, info.Frames, "")
	}
	rep.Done()
	if n == 0 {
		return nil, fmt.Errorf("syncnet: %s: no frames decoded", path)
	}
	best, seen := -1, 0
	for id, ms := range byTrack {
		c := 0
		for _, m := range ms {
			if m != nil {
				c++
			}
		}
		if c > seen || (c == seen && id < best) {
			best, seen = id, c
		}
	}
	if best < 0 {
		return nil, fmt.Errorf("syncnet: %s: no face in any frame", path)
	}
	mouths := byTrack[best]
	for len(mouths) < n {
		mouths = append(mouths, nil)
	}
	return &Clip{Name: filepath.Base(path), FPS: fps, Mouths: mouths, PCM: pcm}, nil
}

// ReadSample is a dataset sample as a Clip.
func ReadSample(s *dataset.Sample) (*Clip, error) {
	mouths, err := s.Mouths()
	if err != nil {
		return nil, err
	}
	pcm, err := s.Audio()
	if err != nil {
		return nil, err
	}
	return &Clip{Name: s.Name, FPS: s.FPS, Mouths: mouths, PCM: pcm}, nil
}
