// Package reenact makes a target face, in a photo or a video, do what a
// driver's face does: the driver's landmarks are tracked, split into head
// pose and expression (displacement from the driver's own neutral frame),
// re-targeted to the target face's proportions, and the target is rendered
// by the same mesh warp that animates photos (package animate). A photo
// target also looks where the driver looks: the driver's gaze, measured
// from its irises, turns the photo's eyes.
//
//	driver video ─ track ─ neutral, pose, expression, gaze ─┐
//	target photo/video ─ track ─ neutral ───────────────────┼─ Retargeter ─ animate.RenderGaze ─ mark ─ media
//	                                                        └─ audio: driver's or target's
package reenact

import (
	"context"
	"errors"
	"fmt"
	"image"
	"strings"
	"time"

	"github.com/facesynth/facesynth/internal/align"
	"github.com/facesynth/facesynth/internal/analyze"
	"github.com/facesynth/facesynth/internal/animate"
	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/fewshot"
	"github.com/facesynth/facesynth/internal/mark"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/portrait"
	"github.com/facesynth/facesynth/internal/progress"
	"github.com/facesynth/facesynth/internal/track"
)

// AudioFrom says whose sound the output has.
type AudioFrom int

const (
	AudioDriver AudioFrom = iota // the driver's (dubbing: the new performance)
	AudioTarget                  // the target video's own
	AudioNone
)

// ParseAudioFrom reads "driver", "target" or "none".
func ParseAudioFrom(s string) (AudioFrom, error) {
	switch s {
	case "driver", "":
		return AudioDriver, nil
	case "target":
		return AudioTarget, nil
	case "none":
		return AudioNone, nil
	}
	return 0, fmt.Errorf("reenact: audio is driver, target or none, not %q", s)
}

// Options control a re-enactment.
type Options struct {
	Audio AudioFrom
	// TargetPose keeps a target video's own head motion and transfers only
	// the expression (dubbing); otherwise, and always for a photo, the
	// driver's head motion is transferred too.
	TargetPose bool
	CRF        int // H.264 quality (default 18)
	Limit      int // at most this many frames (0: all)
	// Model is a renderer trained on the target video (portrait.Train):
	// it draws the target's face for the re-targeted landmarks instead of
	// warping the target's frame, and can show what the frame does not
	// (an open mouth over closed lips). Video targets only.
	Model string
	// FewShot is a meta-learned few-shot model (fewshot.MetaTrain). It is
	// fine-tuned on the target (a photo: its one face; a video: Shots
	// frames spread over it) for TuneSteps steps, then draws the target's
	// face for the re-targeted landmarks over the mesh warp, which still
	// moves the head, hair and background.
	FewShot   string
	Shots     int // frames of a video target to fine-tune on (default 8)
	TuneSteps int // fine-tuning steps (0: none, the meta-learned model as is)
}

// Summary is what Run made.
type Summary struct {
	Output       string
	Frames       int
	Damped       int // frames whose motion was scaled down to keep the mesh from folding
	NoDriverFace int // frames where the driver's face was lost (the last pose is held)
	NoTargetFace int // target video frames without a face (passed through)
	Seconds      float64
	Payload      mark.Payload
	Tune         *fewshot.TuneStats // with Options.FewShot
}

func (s Summary) String() string {
	return fmt.Sprintf("%d frames, %.1f frames/s; driver face lost on %d, target face missing on %d, motion damped on %d; label %s",
		s.Frames, float64(s.Frames)/s.Seconds, s.NoDriverFace, s.NoTargetFace, s.Damped, s.Payload)
}

// ErrNoFace: the driver or the target shows no face at all.
var ErrNoFace = errors.New("reenact: no face found")

// Run re-enacts target (a photo or a video) with driver (a video) into
// output. A photo target gives a video as long as the driver at its frame
// rate; a video target gives as many frames as both have, at the target's
// rate (the driver's frames are taken by time).
func Run(ctx context.Context, driver, target, output string, o Options, rep progress.Reporter) (*Summary, error) {
	rep = progress.Of(rep)
	dinfo, err := media.Probe(ctx, driver)
	if err != nil {
		return nil, err
	}
	if !dinfo.HasVideo || isImage(driver) {
		return nil, fmt.Errorf("reenact: %s: the driver must be a video", driver)
	}
	drv, dgaze, dgazeOK, err := trackVideoGaze(ctx, driver, o.Limit)
	if err != nil {
		return nil, err
	}
	gaze := gazeShifts(dgaze, dgazeOK)
	n := face.Calmest(drv)
	if n < 0 {
		return nil, fmt.Errorf("%w in the driver %s", ErrNoFace, driver)
	}
	driverNeutral := drv[n]

	payload := mark.NewPayload()
	s := &Summary{Output: output, Payload: payload}
	for _, p := range drv {
		if p == nil {
			s.NoDriverFace++
		}
	}
	fillGaps(drv, driverNeutral)

	if o.Model != "" && o.FewShot != "" {
		return nil, fmt.Errorf("reenact: a trained renderer (model) and a few-shot model are two ways to draw the face; give one")
	}
	if o.Shots < 0 || o.TuneSteps < 0 {
		return nil, fmt.Errorf("reenact: shots and fine-tuning steps cannot be negative")
	}
	if isImage(target) {
		if o.Model != "" {
			return nil, fmt.Errorf("reenact: a trained renderer draws the face of the video it learned; give that video as the target, not a photo")
		}
		err = reenactPhoto(ctx, drv, gaze, driverNeutral, dinfo, driver, target, output, o, s, rep)
	} else {
		err = reenactVideo(ctx, drv, driverNeutral, dinfo, driver, target, output, o, s, rep)
	}
	if err != nil {
		return nil, err
	}
	rep.Done()
	return s, nil
}

func isImage(path string) bool {
	switch strings.ToLower(path[strings.LastIndexByte(path, '.')+1:]) {
	case "png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff":
		return true
	}
	return false
}

// fillGaps holds the last seen landmarks where the driver's face was lost
// (the first seen, or neutral, before it appears).
func fillGaps(seq [][]face.Point, neutral []face.Point) {
	last := neutral
	for i, p := range seq {
		if p == nil {
			seq[i] = last
		} else {
			last = p
		}
	}
}

// newTracker is the tracker for one video.
func newTracker(fps float64) (*track.Tracker, error) {
	an, err := analyze.Default()
	if err != nil {
		return nil, err
	}
	return track.New(an, an, track.Options{Smooth: true, FPS: fps}), nil
}

// trackVideo is the landmarks of the main face (the first track seen) in
// every frame of a video; nil where it is not seen.
func trackVideo(ctx context.Context, path string, limit int) ([][]face.Point, error) {
	pts, _, _, err := trackVideoGaze(ctx, path, limit)
	return pts, err
}

// mainFace is the landmarks of the lowest-numbered track (the face seen
// first), or nil.
func mainFace(fs []face.Face) []face.Point {
	if len(fs) == 0 {
		return nil
	}
	return fs[0].Landmarks
}

// damped renders pts, or if they would fold the mesh (a head turned too
// far for a 2-D warp), points pulled toward rest until they do not.
func damped(an *animate.Animator, rest, pts []face.Point) ([]face.Point, bool) {
	if an.Folded(pts) == 0 {
		return pts, false
	}
	for k := 1; k <= 6; k++ {
		f := 1 - float64(k)/6
		q := make([]face.Point, len(pts))
		for i := range pts {
			q[i] = face.Point{X: rest[i].X + f*(pts[i].X-rest[i].X), Y: rest[i].Y + f*(pts[i].Y-rest[i].Y)}
		}
		if an.Folded(q) == 0 {
			return q, true
		}
	}
	return rest, true
}

func audioFor(o Options, driver, target string, dinfo *media.Info, tinfo *media.Info) string {
	switch {
	case o.Audio == AudioDriver && dinfo.HasAudio:
		return driver
	case o.Audio == AudioTarget && tinfo != nil && tinfo.HasAudio:
		return target
	}
	return ""
}

func reenactPhoto(ctx context.Context, drv [][]face.Point, gaze []face.Gaze, driverNeutral []face.Point, dinfo *media.Info,
	driver, target, output string, o Options, s *Summary, rep progress.Reporter) error {
	photo, err := media.LoadImage(target)
	if err != nil {
		return err
	}
	photo = media.FitVideo(photo, 0)
	an, err := analyze.Default()
	if err != nil {
		return err
	}
	tf, ok := face.Largest(an.Faces(photo))
	if !ok {
		return fmt.Errorf("%w in the target %s", ErrNoFace, target)
	}
	anim, err := animate.New(photo, tf)
	if err != nil {
		return fmt.Errorf("reenact: %w", err)
	}
	rt := NewRetargeter(driverNeutral, tf.Landmarks)
	var few *fewshot.Renderer
	if o.FewShot != "" {
		if o.Shots > 1 {
			return fmt.Errorf("reenact: a photo gives one frame to fine-tune on, not %d; give a video target for more", o.Shots)
		}
		shot, err := fewshot.NewShot(photo, tf.Landmarks)
		if err != nil {
			return err
		}
		if few, err = tuneFewShot(ctx, o, []fewshot.Shot{shot}, s); err != nil {
			return err
		}
		defer few.Close()
	}
	w, err := media.CreateVideo(ctx, output, photo.Rect.Dx(), photo.Rect.Dy(), media.WriterOptions{
		FPS: dinfo.FPS, CRF: o.CRF, Audio: audioFor(o, driver, target, dinfo, nil), Metadata: mark.Labels(s.Payload, "reenact"),
	})
	if err != nil {
		return err
	}
	defer w.Abort()
	emb := mark.NewEmbedder(s.Payload)
	frame := image.NewRGBA(photo.Rect)
	start := time.Now()
	for i, d := range drv {
		if err := ctx.Err(); err != nil {
			return err
		}
		pts, damp := damped(anim, tf.Landmarks, rt.Points(d, rt.HeadMotion(d)))
		if damp {
			s.Damped++
		}
		if err := anim.RenderGaze(frame, pts, gaze[i]); err != nil {
			return fmt.Errorf("reenact: %w", err)
		}
		if few != nil {
			if err := few.Render(frame, pts); err != nil {
				return fmt.Errorf("reenact: %w", err)
			}
		}
		emb.Embed(frame)
		if err := w.Write(frame); err != nil {
			return err
		}
		s.Frames++
		rep.Report(i+1, len(drv), "")
	}
	if err := w.Close(); err != nil {
		return err
	}
	s.Seconds = time.Since(start).Seconds()
	return nil
}

func reenactVideo(ctx context.Context, drv [][]face.Point, driverNeutral []face.Point, dinfo *media.Info,
	driver, target, output string, o Options, s *Summary, rep progress.Reporter) error {
	// First pass: the target's landmarks and its neutral frame.
	tgt, err := trackVideo(ctx, target, o.Limit)
	if err != nil {
		return err
	}
	tn := face.Calmest(tgt)
	if tn < 0 {
		return fmt.Errorf("%w in the target %s", ErrNoFace, target)
	}
	targetNeutral := tgt[tn]
	rt := NewRetargeter(driverNeutral, targetNeutral)

	r, err := media.OpenVideo(ctx, target)
	if err != nil {
		return err
	}
	defer r.Close()
	tinfo := r.Info()
	// Frames: as many as both have, the driver's taken by time.
	n := len(tgt)
	if dn := int(float64(len(drv)) * tinfo.FPS / dinfo.FPS); dn < n {
		n = dn
	}
	w, err := media.CreateVideo(ctx, output, tinfo.Width, tinfo.Height, media.WriterOptions{
		FPS: tinfo.FPS, CRF: o.CRF, Audio: audioFor(o, driver, target, dinfo, tinfo), Metadata: mark.Labels(s.Payload, "reenact"),
	})
	if err != nil {
		return err
	}
	defer w.Abort()
	var renderer *portrait.Renderer
	if o.Model != "" {
		if renderer, err = portrait.Load(o.Model); err != nil {
			return err
		}
		defer renderer.Close()
	}
	var few *fewshot.Renderer
	if o.FewShot != "" {
		k := o.Shots
		if k == 0 {
			k = 8
		}
		shots, err := fewshot.ReadShots(ctx, target, k, o.Limit, nil)
		if err != nil {
			return err
		}
		if few, err = tuneFewShot(ctx, o, shots, s); err != nil {
			return err
		}
		defer few.Close()
	}
	emb := mark.NewEmbedder(s.Payload)
	frame, out := r.NewFrame(), r.NewFrame()
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.Read(frame); err != nil {
			return err
		}
		img := frame
		if own := tgt[i]; own == nil {
			s.NoTargetFace++
		} else if anim, err := animate.New(frame, face.Face{Landmarks: own}); err == nil {
			d := drv[min(int(float64(i)*dinfo.FPS/tinfo.FPS), len(drv)-1)]
			var pose align.Transform
			if o.TargetPose {
				pose = poseOf(targetNeutral, own)
			} else {
				// The target's own placement in this frame, then the
				// driver's motion on top.
				pose = rt.HeadMotion(d).Then(poseOf(targetNeutral, own))
			}
			pts, damp := damped(anim, own, rt.Points(d, pose))
			if damp {
				s.Damped++
			}
			// The eyes keep the target's own gaze: replacing it would
			// mean cancelling the glances measured in each frame, and on
			// 24-px eyes that measure is too noisy (tried: the output's
			// gaze then followed the driver's with r = 0.22 and the
			// target's with −0.34).
			if renderer != nil {
				copy(out.Pix, frame.Pix)
				err = renderer.Render(out, pts)
			} else if err = anim.RenderPoints(out, pts); err == nil && few != nil {
				err = few.Render(out, pts)
			}
			if err != nil {
				return fmt.Errorf("reenact: %w", err)
			}
			img = out
		} else {
			s.NoTargetFace++
		}
		emb.Embed(img)
		if err := w.Write(img); err != nil {
			return err
		}
		s.Frames++
		rep.Report(i+1, n, "")
	}
	if err := w.Close(); err != nil {
		return err
	}
	s.Seconds = time.Since(start).Seconds()
	return nil
}

// tuneFewShot fine-tunes the few-shot model on the target's shots.
func tuneFewShot(ctx context.Context, o Options, shots []fewshot.Shot, s *Summary) (*fewshot.Renderer, error) {
	r, err := fewshot.FineTune(ctx, o.FewShot, shots, fewshot.TuneOptions{Steps: o.TuneSteps})
	if err != nil {
		return nil, err
	}
	s.Tune = &r.Stats
	return r, nil
}
