package syncnet

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/facesynth/facesynth/internal/dataset"
)

// ShiftAudio is c with its speech delayed by frames video frames (brought
// forward when negative): silence fills the start, or the start is cut.
// The speech of frame i is then heard at frame i+frames, which is the
// offset Score should find.
func ShiftAudio(c *Clip, frames int) *Clip {
	n := int(math.Round(float64(frames) * dataset.AudioRate / c.FPS))
	out := *c
	if n >= 0 {
		out.PCM = append(make([]float32, n), c.PCM...)
	} else {
		out.PCM = append([]float32(nil), c.PCM[min(-n, len(c.PCM)):]...)
	}
	out.Name = fmt.Sprintf("%s shifted %+d", c.Name, frames)
	return &out
}

// ShuffleAudio is c with its speech cut into blocks of block frames that
// are put back in a random order (seeded): every sound is still there,
// none at its time.
func ShuffleAudio(c *Clip, block int, seed uint64) *Clip {
	size := int(math.Round(float64(block) * dataset.AudioRate / c.FPS))
	var blocks [][]float32
	for at := 0; at < len(c.PCM); at += size {
		blocks = append(blocks, c.PCM[at:min(at+size, len(c.PCM))])
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	// A derangement-ish shuffle: reshuffle until no block stays in place,
	// so the result is off-sync everywhere (a handful of tries suffice).
	perm := rng.Perm(len(blocks))
	for try := 0; try < 100 && fixedPoint(perm); try++ {
		perm = rng.Perm(len(blocks))
	}
	out := *c
	out.PCM = make([]float32, 0, len(c.PCM))
	for _, k := range perm {
		out.PCM = append(out.PCM, blocks[k]...)
	}
	out.Name = c.Name + " shuffled"
	return &out
}

func fixedPoint(p []int) bool {
	for i, v := range p {
		if i == v {
			return true
		}
	}
	return false
}

// ClipEvaluation is one clip's results in Evaluate.
type ClipEvaluation struct {
	Name       string  `json:"name"`
	Offset     int     `json:"offset"`      // found on the clip as it is (in sync: want 0)
	Confidence float64 `json:"confidence"`  // of that
	Early      int     `json:"early"`       // found with the speech Shift frames early (want −Shift)
	Late       int     `json:"late"`        // found with the speech Shift frames late (want +Shift)
	Shuffled   float64 `json:"shuffled"`    // confidence with the speech shuffled
	ShuffledAt int     `json:"shuffled_at"` // the offset found then
}

// Evaluation sums up Evaluate.
type Evaluation struct {
	Clips    int              `json:"clips"`
	Shift    int              `json:"shift"`
	InSync   int              `json:"in_sync"`  // clips whose offset was found within ±1 frame of 0
	Shifts   int              `json:"shifts"`   // shifted versions whose offset was found within ±1 frame
	Ranked   int              `json:"ranked"`   // clips more confident in sync than with shuffled speech
	PerClip  []ClipEvaluation `json:"per_clip"` // in the order given
	MeanConf float64          `json:"mean_confidence"`
	MeanShuf float64          `json:"mean_shuffled_confidence"`
}

func (e Evaluation) String() string {
	return fmt.Sprintf("%d clips: in sync found %d/%d, ±%d-frame shifts found %d/%d, in sync ranked above shuffled %d/%d (confidence %.3f vs %.3f)",
		e.Clips, e.InSync, e.Clips, e.Shift, e.Shifts, 2*e.Clips, e.Ranked, e.Clips, e.MeanConf, e.MeanShuf)
}

// Evaluate scores in-sync clips as they are, with their speech shift
// frames early and late, and with it shuffled in blocks of 10 frames.
func (s *Scorer) Evaluate(clips []*Clip, shift int) (*Evaluation, error) {
	e := &Evaluation{Clips: len(clips), Shift: shift}
	within := func(got, want int) bool { return got >= want-1 && got <= want+1 }
	for k, c := range clips {
		r, err := s.Score(c)
		if err != nil {
			return nil, err
		}
		ce := ClipEvaluation{Name: c.Name, Offset: r.Offset, Confidence: r.Confidence}
		early, err := s.Score(ShiftAudio(c, -shift))
		if err != nil {
			return nil, err
		}
		late, err := s.Score(ShiftAudio(c, shift))
		if err != nil {
			return nil, err
		}
		shuf, err := s.Score(ShuffleAudio(c, 10, uint64(k+1)))
		if err != nil {
			return nil, err
		}
		ce.Early, ce.Late, ce.Shuffled, ce.ShuffledAt = early.Offset, late.Offset, shuf.Confidence, shuf.Offset
		if within(ce.Offset, 0) {
			e.InSync++
		}
		if within(ce.Early, -shift) {
			e.Shifts++
		}
		if within(ce.Late, shift) {
			e.Shifts++
		}
		if ce.Confidence > ce.Shuffled {
			e.Ranked++
		}
		e.MeanConf += ce.Confidence / float64(len(clips))
		e.MeanShuf += ce.Shuffled / float64(len(clips))
		e.PerClip = append(e.PerClip, ce)
	}
	return e, nil
}
