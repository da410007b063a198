package animate

import (
	"image"
	"testing"

	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/testmedia"
)

// TestGaze turns the eyes of two photos left and right and measures the
// gaze again on the rendered frames (landmarks detected anew, irises
// found by face.FindGaze): it must move the asked way, by at least half
// the asked amount, and no gaze within MaxGaze may fold the mesh, with
// any expression.
func TestGaze(t *testing.T) {
	for _, name := range []string{"astronaut.png", "franck_f1000.png"} {
		img, err := media.LoadImage(testmedia.Path(t, name))
		if err != nil {
			t.Fatal(err)
		}
		f := largest(t, faces(t).Faces(img))
		a, err := New(img, f)
		if err != nil {
			t.Fatal(err)
		}
		rest, ok := a.Gaze()
		if !ok {
			t.Fatalf("%s: irises not found in the photo", name)
		}
		measured := func(g face.Gaze) face.Gaze {
			dst := image.NewRGBA(a.Bounds())
			if err := a.Render(dst, Expression{Gaze: g}); err != nil {
				t.Fatal(err)
			}
			got := largest(t, faces(t).Faces(dst))
			m, ok := face.FindGaze(face.Gray(dst), got.Landmarks)
			if !ok {
				t.Fatalf("%s: gaze %+v: irises not found in the rendered frame", name, g)
			}
			return m
		}
		base := measured(face.Gaze{})
		for _, g := range []face.Gaze{{X: MaxGaze.X}, {X: -MaxGaze.X}, {X: 0.08}, {X: -0.08}} {
			m := measured(g)
			shift := m.X - base.X
			t.Logf("%s (photo's gaze %+.3f, %+.3f): asked %+.2f, measured %+.3f", name, rest.X, rest.Y, g.X, shift)
			// The measure sees less than the warp moves (FindIrises
			// leaves the eye's outer fifth out, where a turned iris
			// goes), and the renderer's gain is what reenact scales by.
			if shift*g.X <= 0 || shift/g.X < 0.3 {
				t.Errorf("%s: asked gaze %+.2f, measured %+.3f", name, g.X, shift)
			}
		}
		// Turning the eyes folds nothing that the expression alone does
		// not (franck's closed lips fold two mouth triangles in a smile
		// whatever the eyes do; RenderPoints untangles those).
		ring := a.from[len(a.from)-ringAnchors:]
		folds := 0
		for _, e := range extremes() {
			pts := a.Points(e)
			still := a.mesh.Folded(append(a.controls(pts, face.Gaze{}), ring...))
			for _, g := range []face.Gaze{{X: MaxGaze.X, Y: MaxGaze.Y}, {X: -MaxGaze.X, Y: -MaxGaze.Y}, {X: MaxGaze.X, Y: -MaxGaze.Y}, {X: 1, Y: -1}} {
				folds += max(0, a.mesh.Folded(append(a.controls(pts, g), ring...))-still)
			}
		}
		if folds != 0 {
			t.Errorf("%s: turning the eyes folds %d more triangles over the extreme expressions", name, folds)
		}
	}
}
