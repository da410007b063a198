package convert

import (
	"context"
	"fmt"
	"image"

	"github.com/facesynth/facesynth/internal/align"
	"github.com/facesynth/facesynth/internal/blend"
	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/swap"
)

// MaskMode chooses the blend mask: the model's learned mask, the landmark
// hull, or their intersection (the default: the hull keeps the learned mask
// from spilling onto background, the learned mask cuts out occluders the
// hull cannot know about; while the learned mask is still untrained and
// keeps less than half the hull, the default falls back to the hull).
type MaskMode int

const (
	MaskBoth MaskMode = iota
	MaskLearned
	MaskHull
)

// ParseMaskMode reads "both", "learned" or "hull".
func ParseMaskMode(s string) (MaskMode, error) {
	switch s {
	case "both", "":
		return MaskBoth, nil
	case "learned":
		return MaskLearned, nil
	case "hull":
		return MaskHull, nil
	}
	return 0, fmt.Errorf("convert: unknown mask %q (both, learned or hull)", s)
}

// BlendMode chooses how the generated face meets the frame.
type BlendMode int

const (
	BlendPoisson BlendMode = iota // seamless cloning: the frame's colours at the mask edge
	BlendAlpha                    // feathered alpha only
)

// ParseBlendMode reads "poisson" or "alpha".
func ParseBlendMode(s string) (BlendMode, error) {
	switch s {
	case "poisson", "seamless", "":
		return BlendPoisson, nil
	case "alpha":
		return BlendAlpha, nil
	}
	return 0, fmt.Errorf("convert: unknown blend %q (poisson or alpha)", s)
}

// swapStage replaces each tracked face: align a crop, generate the other
// identity's face, build the mask, match colour, blend, paste back.
type swapStage struct {
	model   *swap.Model
	o       Options
	colour  map[int]*colourState // per track: running colour statistics
	swapped int
}

// colourState holds running Lab statistics of a track's frame face and
// generated face: matching against averages over recent frames instead of
// each frame's own keeps the face's colour from flickering.
type colourState struct{ frame, gen blend.LabStats }

func newSwapStage(m *swap.Model, o Options) *swapStage {
	return &swapStage{model: m, o: o, colour: map[int]*colourState{}}
}

// swapBatch is how many frames the swap stage takes at once. On this
// 2-core CPU the original model spends 72 ms per face alone, 49 in pairs
// and 33 in fours; eight gain nothing more.
const swapBatch = 4

func (s *swapStage) BatchSize() int { return swapBatch }

func (s *swapStage) Process(ctx context.Context, f *Frame) error {
	return s.ProcessBatch(ctx, []*Frame{f})
}

// ProcessBatch generates the faces of all frames in one pass of the
// network, then blends them in frame order (the colour statistics run
// over time).
func (s *swapStage) ProcessBatch(_ context.Context, fs []*Frame) error {
	cs := s.o.CropSize
	type job struct {
		f     *Frame
		fc    face.Face
		t     align.Transform
		crop  *image.RGBA
		index int // into the network's batch
	}
	var jobs []job
	var crops []image.Image
	for _, f := range fs {
		for _, fc := range f.Faces {
			t := align.ToCrop(fc.Landmarks, cs)
			if !t.Valid() {
				continue
			}
			crop := align.Crop(f.Img, t, cs)
			jobs = append(jobs, job{f, fc, t, crop, len(crops)})
			crops = append(crops, crop)
		}
	}
	if len(crops) == 0 {
		return nil
	}
	gens, masks, err := s.model.Swap(crops, s.o.Direction)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		gen := resize(gens[j.index], cs)
		mask := s.mask(masks[j.index], j.t.ApplyAll(j.fc.Landmarks), j.crop)
		gen, err = s.matchColour(j.fc.Track, gen, j.crop, mask)
		if err != nil {
			return err
		}
		var out *image.RGBA
		if s.o.Blend == BlendAlpha {
			out, err = blend.Alpha(j.crop, gen, mask)
		} else {
			out, err = blend.Poisson(j.crop, gen, mask, 0)
		}
		if err != nil {
			return err
		}
		align.Paste(j.f.Img, out, mask, j.t)
		s.swapped++
	}
	return nil
}

// mask builds the blend mask in crop space, zero wherever the crop reaches
// past the frame (its alpha is 0 there), so a face at the border never
// paints padding into the picture.
func (s *swapStage) mask(learned *image.Gray, pts []facePoint, crop *image.RGBA) *image.Gray {
	cs := s.o.CropSize
	var m *image.Gray
	switch s.o.Mask {
	case MaskHull:
		m = align.HullMask(pts, cs, cs)
	case MaskLearned:
		m = resizeGray(learned, cs)
	default:
		hull := align.HullMask(pts, cs, cs)
		m, _ = blend.Intersect(hull, resizeGray(learned, cs))
		// Early in training the learned mask is still a blob that would
		// cut the face down to a patch in the middle; real occluders
		// (a hand, a microphone) take far less than half the face. So
		// a learned mask that keeps under half the hull is not trusted
		// yet, and the hull alone is used.
		if area(m) < 0.5*area(hull) {
			m = hull
		}
	}
	m = blend.Feather(blend.Erode(m, s.o.Erode), s.o.Feather)
	for i := range m.Pix {
		if a := crop.Pix[4*i+3]; a < 255 {
			m.Pix[i] = uint8(int(m.Pix[i]) * int(a) / 255)
		}
	}
	return m
}

// area is a mask's coverage in full-on pixels.
func area(m *image.Gray) float64 {
	var n int
	for _, v := range m.Pix {
		n += int(v)
	}
	return float64(n) / 255
}

func (s *swapStage) matchColour(trackID int, gen, crop *image.RGBA, mask *image.Gray) (*image.RGBA, error) {
	switch s.o.Color {
	case blend.None:
		return gen, nil
	case blend.Histogram:
		return blend.MatchColor(gen, crop, mask, blend.Histogram)
	}
	st, ok := s.colour[trackID]
	fs, gs := blend.Stats(crop, mask), blend.Stats(gen, mask)
	if !ok || st.frame.Weight == 0 {
		st = &colourState{frame: fs, gen: gs}
		s.colour[trackID] = st
	} else {
		st.frame = st.frame.Lerp(fs, s.o.Smoothing)
		st.gen = st.gen.Lerp(gs, s.o.Smoothing)
	}
	return blend.ApplyReinhard(gen, st.gen, st.frame), nil
}
