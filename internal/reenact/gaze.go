package reenact

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/stats"
)

// gazeGain is how far the iris's dark centre moves in a rendered frame,
// as face.FindGaze measures it, per unit of animate's Expression.Gaze:
// about half (animate's TestGaze: 0.08–0.10 for 0.17 asked, 0.03–0.06 for
// 0.08). The driver's gaze is divided by it so that the target looks as
// far to the side as the driver does.
const gazeGain = 0.5

// trackVideoGaze is trackVideo, with the main face's gaze in every frame
// (ok false where the face or its irises were not found).
func trackVideoGaze(ctx context.Context, path string, limit int) ([][]face.Point, []face.Gaze, []bool, error) {
	r, err := media.OpenVideo(ctx, path)
	if err != nil {
		return nil, nil, nil, err
	}
	defer r.Close()
	tr, err := newTracker(r.Info().FPS)
	if err != nil {
		return nil, nil, nil, err
	}
	var (
		pts  [][]face.Point
		gaze []face.Gaze
		ok   []bool
	)
	buf := r.NewFrame()
	for limit <= 0 || len(pts) < limit {
		if err := r.Read(buf); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, nil, nil, err
		}
		gray := face.Gray(buf)
		p := mainFace(tr.Update(gray))
		var g face.Gaze
		found := false
		if p != nil {
			g, found = face.FindGaze(gray, p)
		}
		pts, gaze, ok = append(pts, p), append(gaze, g), append(ok, found)
	}
	if len(pts) == 0 {
		return nil, nil, nil, fmt.Errorf("reenact: %s: no frames", path)
	}
	return pts, gaze, ok, nil
}

// gazeShifts turns a driver's measured gaze into the Expression.Gaze of
// each frame: the change from the driver's usual gaze (the median, which
// a few glances do not move), a 3-frame median against the measure's
// frame-to-frame noise, divided by gazeGain. Frames without a measure
// (a blink, the face lost) hold the last shift.
func gazeShifts(gaze []face.Gaze, ok []bool) []face.Gaze {
	out := make([]face.Gaze, len(gaze))
	var xs, ys []float64
	for i, g := range gaze {
		if ok[i] {
			xs, ys = append(xs, g.X), append(ys, g.Y)
		}
	}
	if len(xs) == 0 {
		return out
	}
	ref := face.Gaze{X: stats.Median(xs), Y: stats.Median(ys)}
	held := make([]face.Gaze, len(gaze))
	var last face.Gaze
	for i, g := range gaze {
		if ok[i] {
			last = face.Gaze{X: g.X - ref.X, Y: g.Y - ref.Y}
		}
		held[i] = last
	}
	for i := range held {
		var wx, wy []float64
		for j := max(0, i-1); j <= min(len(held)-1, i+1); j++ {
			wx, wy = append(wx, held[j].X), append(wy, held[j].Y)
		}
		out[i] = face.Gaze{X: stats.Median(wx) / gazeGain, Y: stats.Median(wy) / gazeGain}
	}
	return out
}
