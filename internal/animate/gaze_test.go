package animate

import (
	"image"
	"math"
	"testing"

	"github.com/facesynth/facesynth/internal/face"
)

// TestGaze turns the eyes of two photos left and right and measures the
// gaze again on the rendered frames (landmarks detected anew, irises
// found by face.FindGaze): it must move the asked way, by at least 0.3 of
// the asked amount, and turning the eyes may fold no triangle that the
// expression alone does not.
func TestGaze(t *testing.T) {
	for _, name := range []string{"astronaut.png", "franck_f1000.png"} {
		_, _, a := sample(t, name)
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

// TestGlances: over a minute the eyes jump between 0.2 and 0.7 times a
// second, stay within reach, rest between jumps, and the seed decides.
func TestGlances(t *testing.T) {
	const fps = 25
	for seed := uint64(1); seed <= 5; seed++ {
		g := Glances(seed, 60*fps, fps)
		jumps, moving := 0, 0
		for i := 1; i < len(g); i++ {
			d := math.Hypot(g[i].X-g[i-1].X, g[i].Y-g[i-1].Y)
			if d > 1e-9 {
				moving++
				if i == 1 || math.Hypot(g[i-1].X-g[i-2].X, g[i-1].Y-g[i-2].Y) <= 1e-9 {
					jumps++
				}
			}
			if math.Abs(g[i].X) > glanceReach || math.Abs(g[i].Y) > glanceReach/3 {
				t.Fatalf("seed %d frame %d: gaze %+v beyond reach", seed, i, g[i])
			}
		}
		rate := float64(jumps) / 60
		t.Logf("seed %d: %d saccades in 60 s (%.2f/s), moving in %d frames", seed, jumps, rate, moving)
		if rate < 0.2 || rate > 0.7 {
			t.Errorf("seed %d: %.2f saccades/s, want 0.2–0.7", seed, rate)
		}
		if moving > 3*jumps {
			t.Errorf("seed %d: eyes moving in %d frames for %d saccades: they should rest between", seed, moving, jumps)
		}
	}
	a, b := Glances(7, 500, 25), Glances(7, 500, 25)
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("the same seed gave different glances")
		}
	}
	if g := Glances(1, 10, math.NaN()); len(g) != 10 || g[9] != (face.Gaze{}) {
		t.Errorf("NaN fps: %v", g)
	}
}
