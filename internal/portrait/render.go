// Package portrait is a Deep Video Portraits style renderer (Kim et al.
// 2018): a network trained on one target video to draw that person's face
// from conditioning images, so that someone else's expressions, re-targeted
// to the target's landmarks, come out as the target's own face, mouth
// interior and shading included, which a mesh warp of a still frame cannot
// invent. Where the paper renders a fitted 3-D face model, the conditioning
// here is landmark sketches of the current and previous frames (the 2-D
// stand-in facesynth already has); the network is pix2pix's U-Net with a
// PatchGAN critic, L1 plus adversarial loss.
//
//	target video ─ track ─ (sketches, face crop) pairs ─ Train ─ model folder
//	re-targeted landmarks ─ sketches ─ Renderer ─ face crop ─ paste into the frame
package portrait

import (
	"fmt"
	"image"
	"os"
	"path/filepath"

	"github.com/facesynth/facesynth/internal/align"
	"github.com/facesynth/facesynth/internal/blend"
	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/media"
)

// Renderer draws a trained target's face for new landmarks. It remembers
// the last few landmark sets it drew (the renderer's temporal context), so
// one Renderer serves one video, frames in order. Not safe for concurrent
// use.
type Renderer struct {
	m       *Model
	cond    *conditioner
	history [][]face.Point
	sk      []float32
}

// Load reads a renderer trained by Train.
func Load(dir string) (*Renderer, error) {
	st, err := ReadState(dir)
	if err != nil {
		return nil, err
	}
	ref, err := media.LoadImage(filepath.Join(dir, referenceFile))
	if err != nil {
		return nil, fmt.Errorf("portrait: %w", err)
	}
	if ref.Rect.Dx() != Size || ref.Rect.Dy() != Size || len(st.RefPoints) != face.NumLandmarks {
		return nil, fmt.Errorf("portrait: %s: reference frame is not a %d px crop with 68 landmarks", dir, Size)
	}
	cond, err := newConditioner(ref, st.RefPoints)
	if err != nil {
		return nil, err
	}
	m, err := NewModel()
	if err != nil {
		return nil, err
	}
	meta, err := m.params.Load(filepath.Join(dir, weightsFile))
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("portrait: %w", err)
	}
	if meta["format"] != format {
		m.Close()
		return nil, fmt.Errorf("portrait: %s: not a portrait renderer", dir)
	}
	m.params.SetTraining(false)
	return &Renderer{m: m, cond: cond, sk: make([]float32, inChannels*Size*Size)}, nil
}

// IsModel tells whether dir holds a trained renderer.
func IsModel(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, stateFile))
	return err == nil
}

// Close frees the weights.
func (r *Renderer) Close() { r.m.Close() }

// Face draws the face crop for landmarks pts (frame coordinates) and gives
// the transform from the frame to the crop.
func (r *Renderer) Face(pts []face.Point) (*image.RGBA, align.Transform, error) {
	r.history = append(r.history, pts)
	if len(r.history) > Context {
		r.history = r.history[len(r.history)-Context:]
	}
	t := CropTransform(pts)
	if !t.Valid() {
		return nil, t, fmt.Errorf("portrait: landmarks give no crop")
	}
	if err := r.cond.fill(r.sk, r.history, len(r.history)-1, t); err != nil {
		return nil, t, err
	}
	img, err := r.m.render(r.sk)
	return img, t, err
}

// Render draws the face for pts into frame: the generated crop is pasted
// inside the landmarks' hull, feathered, so the frame's background and
// hair stay the frame's.
func (r *Renderer) Render(frame *image.RGBA, pts []face.Point) error {
	crop, t, err := r.Face(pts)
	if err != nil {
		return err
	}
	PasteFace(frame, crop, pts, t)
	return nil
}

// PasteFace pastes a generated face crop (square, any side) into frame
// inside the hull of the face's landmarks pts (frame coordinates), eroded
// and feathered by a 32nd and a 16th of the crop, so the frame keeps its
// own background and hair; t maps the frame to the crop. Package fewshot's
// renderer pastes its faces the same way.
func PasteFace(frame, crop *image.RGBA, pts []face.Point, t align.Transform) {
	size := crop.Rect.Dx()
	mask := align.HullMask(t.ApplyAll(pts), size, size, align.BrowLift(0.2))
	mask = blend.Feather(blend.Erode(mask, size/32), size/16)
	align.Paste(frame, crop, mask, t)
}
