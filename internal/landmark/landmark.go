// Package landmark places the 68 iBUG 300-W landmarks with dlib's shape
// predictor (an ensemble of regression trees, Kazemi & Sullivan 2014), read
// from dlib's own model file and run in pure Go.
package landmark

import (
	"errors"
	"image"
	"io"

	"github.com/facesynth/facesynth/internal/face"
)

// Predictor is a loaded shape predictor model.
type Predictor struct {
	mean []float32
}

// Load reads a dlib shape predictor file.
func Load(path string) (*Predictor, error) { return nil, errors.New("landmark: not implemented") }

// Read reads a dlib shape predictor from r.
func Read(r io.Reader) (*Predictor, error) { return nil, errors.New("landmark: not implemented") }

// Default is dlib's 68-point model, loaded once and shared.
func Default() (*Predictor, error) { return nil, errors.New("landmark: not implemented") }

// NumParts is the number of landmarks the model places.
func (p *Predictor) NumParts() int { return len(p.mean) / 2 }

// Predict places the landmarks for the face in box.
func (p *Predictor) Predict(g *image.Gray, box face.Box) []face.Point { return nil }

// MeanShape is the model's initial shape in box-normalised coordinates.
func (p *Predictor) MeanShape() []face.Point { return nil }

// BoxFromShape returns the dlib-style box whose mean shape best fits pts.
func (p *Predictor) BoxFromShape(pts []face.Point) face.Box { return face.Box{} }
