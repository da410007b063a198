package face

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
)

// ImageResult is the JSON document of `facesynth detect --json`. It has the
// schema of dlib's reference files in testdata/faces/, so our output and
// dlib's can be compared field by field.
type ImageResult struct {
	Image    string     `json:"image"`
	Width    int        `json:"width"`
	Height   int        `json:"height"`
	Upsample *int       `json:"upsample,omitempty"`
	Faces    []FaceJSON `json:"faces"`
}

// FaceJSON is one face in an ImageResult: box [left, top, right, bottom]
// (inclusive), score, and 68 [x, y] points.
type FaceJSON struct {
	Box       [4]float64   `json:"box"`
	Score     float64      `json:"score"`
	Angle     float64      `json:"angle_deg,omitempty"`
	Landmarks [][2]float64 `json:"landmarks"`
}

// ToJSON converts a Face to its JSON form, rounding to 0.01 px.
func ToJSON(f Face) FaceJSON {
	r := func(v float64) float64 { return math.Round(v*100) / 100 }
	j := FaceJSON{
		Box:       [4]float64{r(f.Box.Left), r(f.Box.Top), r(f.Box.Right), r(f.Box.Bottom)},
		Score:     math.Round(f.Score*1e6) / 1e6,
		Angle:     r(f.Angle * 180 / math.Pi),
		Landmarks: make([][2]float64, len(f.Landmarks)),
	}
	for i, p := range f.Landmarks {
		j.Landmarks[i] = [2]float64{r(p.X), r(p.Y)}
	}
	return j
}

// FromJSON converts a FaceJSON back to a Face.
func FromJSON(j FaceJSON) Face {
	f := Face{
		Box:   Box{j.Box[0], j.Box[1], j.Box[2], j.Box[3]},
		Score: j.Score,
		Angle: j.Angle * math.Pi / 180,
	}
	for _, p := range j.Landmarks {
		f.Landmarks = append(f.Landmarks, Point{p[0], p[1]})
	}
	return f
}

// ReadImageResult reads a reference or detect JSON file.
func ReadImageResult(path string) (*ImageResult, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r ImageResult
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("face: %s: %w", path, err)
	}
	return &r, nil
}
