package extract

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/fsutil"
)

// FileName is the alignments file inside an extract folder.
const FileName = "alignments.json"

// Alignments is DIR/alignments.json: for every processed frame, its faces
// with box, landmarks, the transform from frame pixels to the aligned crop,
// the track id, and the crop's file name under DIR. Later stages (training,
// convert) read it instead of detecting again.
type Alignments struct {
	Version  int     `json:"version"`
	Source   string  `json:"source"`
	Kind     string  `json:"kind"` // "video", "image" or "images"
	Width    int     `json:"width,omitempty"`
	Height   int     `json:"height,omitempty"`
	FPS      float64 `json:"fps,omitempty"`
	CropSize int     `json:"crop_size"`
	Frames   []Frame `json:"frames"`
}

// Frame is one processed frame (or image) and the faces found in it.
type Frame struct {
	Index int    `json:"index"`
	Name  string `json:"name,omitempty"` // the image file, for image inputs
	Faces []Face `json:"faces"`
}

// Face is one face of a frame. Transform maps frame pixels to crop pixels:
// x' = T[0]x + T[1]y + T[2], y' = T[3]x + T[4]y + T[5].
type Face struct {
	face.FaceJSON
	Track     int        `json:"track"`
	Transform [6]float64 `json:"transform"`
	File      string     `json:"file"`
}

// ReadAlignments reads an extract folder's alignments file.
func ReadAlignments(path string) (*Alignments, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	var a Alignments
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("extract: %s: not an alignments file: %w", path, err)
	}
	if a.Version != 1 {
		return nil, fmt.Errorf("extract: %s: unsupported alignments version %d", path, a.Version)
	}
	return &a, nil
}

func (a *Alignments) write(path string) error {
	b, err := json.MarshalIndent(a, "", " ")
	if err != nil {
		return err
	}
	return fsutil.WriteFile(path, append(b, '\n'), 0o644)
}
