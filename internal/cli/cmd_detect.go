package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"

	"github.com/facesynth/facesynth/internal/analyze"
	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/media"
)

func init() {
	register(command{"detect", "find faces and 68 landmarks in an image", runDetect})
}

func runDetect(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "detect", "IMAGE [--json]")
	asJSON := fs.Bool("json", false, "print the result as JSON (the schema of testdata/faces/*.json)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one IMAGE, got %d arguments", len(pos))
	}
	img, err := media.LoadImage(pos[0])
	if err != nil {
		return err
	}
	an, err := analyze.Default()
	if err != nil {
		return err
	}
	faces := an.Faces(img)
	res := face.ImageResult{Image: filepath.Base(pos[0]), Width: img.Rect.Dx(), Height: img.Rect.Dy(),
		Faces: []face.FaceJSON{}}
	for _, f := range faces {
		res.Faces = append(res.Faces, face.ToJSON(f))
	}
	if *asJSON {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(env.Stdout, "%s\n", b)
		return err
	}
	fmt.Fprintf(env.Stdout, "%s: %dx%d, %d faces\n", res.Image, res.Width, res.Height, len(faces))
	for i, f := range faces {
		deg := math.Round(f.Angle * 180 / math.Pi)
		if deg == 0 {
			deg = 0 // not "-0°"
		}
		fmt.Fprintf(env.Stdout, "  face %d: box [%.0f %.0f %.0f %.0f] score %.2f angle %.0f° eye distance %.1f px\n",
			i+1, f.Box.Left, f.Box.Top, f.Box.Right, f.Box.Bottom, f.Score, deg,
			face.EyeDistance(f.Landmarks))
	}
	return nil
}
