package swap

import (
	"context"
	"encoding/json"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facesynth/facesynth/internal/align"
	"github.com/facesynth/facesynth/internal/extract"
	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/testmedia"
)

func TestResizeRGBAveragesWhenShrinking(t *testing.T) {
	// 4×4 of 2×2 blocks → 2×2: each output pixel is its block's mean.
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	vals := [4][4]uint8{{0, 10, 100, 100}, {20, 30, 100, 100}, {1, 2, 200, 201}, {3, 4, 202, 203}}
	for y := range 4 {
		for x := range 4 {
			img.Set(x, y, color.RGBA{vals[y][x], 255 - vals[y][x], 7, 255})
		}
	}
	got := resizeRGB(img, 2)
	// (0+10+20+30)/4 = 15, …; 252.5 and 201.5 and 53.5 round up.
	want := [][3]uint8{{15, 240, 7}, {100, 155, 7}, {3, 253, 7}, {202, 54, 7}}
	for i, w := range want {
		if [3]uint8(got[3*i:3*i+3]) != w {
			t.Errorf("pixel %d: %v, want %v", i, got[3*i:3*i+3], w)
		}
	}
	// A non-integer ratio keeps a constant image constant.
	flat := image.NewRGBA(image.Rect(0, 0, 100, 100))
	for i := range flat.Pix {
		flat.Pix[i] = 77
	}
	for _, v := range resizeRGB(flat, 64) {
		if v != 77 {
			t.Fatalf("constant 77 image resized 100→64 has a pixel %d", v)
		}
	}
}

func TestResizeRGBInterpolatesWhenEnlarging(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 2, 1))
	img.Set(0, 0, color.RGBA{0, 0, 0, 255})
	img.Set(1, 0, color.RGBA{200, 0, 0, 255})
	// Output centres at source x = -0.25, 0.25, 0.75, 1.25: clamped, then
	// 1/4 and 3/4 of the way.
	got := resizeRGB(img, 4)
	for i, w := range []uint8{0, 50, 150, 200} {
		if got[3*i] != w { // row 0 of 4 (rows repeat the single source row)
			t.Errorf("x=%d: %d, want %d", i, got[3*i], w)
		}
	}
}

// writeExtractFolder writes an extract folder the way facesynth extract
// does: the astronaut's face aligned into a size px crop, its landmarks in
// frame pixels and the frame → crop transform in alignments.json.
func writeExtractFolder(t *testing.T, size, copies int) (dir string, pts []face.Point, tr align.Transform) {
	t.Helper()
	ref, err := face.ReadImageResult(testmedia.Reference(t, "astronaut.json"))
	if err != nil {
		t.Fatal(err)
	}
	frame, err := media.LoadImage(testmedia.Path(t, "astronaut.png"))
	if err != nil {
		t.Fatal(err)
	}
	pts = face.FromJSON(ref.Faces[0]).Landmarks
	tr = align.ToCrop(pts, size)
	dir = t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "faces"), 0o755); err != nil {
		t.Fatal(err)
	}
	al := extract.Alignments{Version: 1, Source: "astronaut.png", Kind: "image", CropSize: size}
	for k := range copies {
		rel := filepath.Join("faces", "astronaut_"+string(rune('a'+k))+".png")
		if err := media.SaveImage(filepath.Join(dir, rel), align.Crop(frame, tr, size)); err != nil {
			t.Fatal(err)
		}
		al.Frames = append(al.Frames, extract.Frame{Index: k, Faces: []extract.Face{{FaceJSON: ref.Faces[0],
			Transform: [6]float64{tr.A, tr.B, tr.C, tr.D, tr.E, tr.F}, File: rel}}})
	}
	writeJSON(t, filepath.Join(dir, extract.FileName), al)
	return dir, pts, tr
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// The hull mask must land on the face: a 256 px crop loaded at 64 px has
// its landmarks mapped frame → crop → model pixels.
func TestLoadFaceSetMasksTheFace(t *testing.T) {
	dir, pts, tr := writeExtractFolder(t, 256, 3)
	os.Remove(filepath.Join(dir, "faces", "astronaut_b.png")) // curated away
	set, err := LoadFaceSet(context.Background(), dir, 64)
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 2 || set.Skipped != 1 || set.Size != 64 || len(set.RGB[0]) != 64*64*3 {
		t.Fatalf("%d faces (%d skipped), size %d: want 2 (1 skipped) of 64 px", set.Len(), set.Skipped, set.Size)
	}
	m := set.Mask[0]
	at := func(p face.Point) uint8 { // p in frame pixels
		c := tr.Apply(p)
		x, y := int((c.X+0.5)/4), int((c.Y+0.5)/4)
		return m[y*64+x]
	}
	for _, i := range []int{30, 33, 36, 45, 48, 54, 8} { // nose, eye corners, mouth corners, chin
		if v := at(pts[i]); v < 200 {
			t.Errorf("landmark %d lies outside the mask (%d)", i, v)
		}
	}
	for _, c := range [][2]int{{0, 0}, {63, 0}, {0, 63}, {63, 63}} {
		if v := m[c[1]*64+c[0]]; v != 0 {
			t.Errorf("crop corner %v is inside the mask (%d)", c, v)
		}
	}
	var inside int
	for _, v := range m {
		if v > 127 {
			inside++
		}
	}
	if f := float64(inside) / (64 * 64); f < 0.15 || f > 0.7 {
		t.Errorf("mask covers %.2f of the crop, want a face-sized 0.15–0.7", f)
	}
}

func TestLoadFaceSetErrors(t *testing.T) {
	ctx := context.Background()
	check := func(t *testing.T, err error, want string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "swap: ") {
			t.Errorf("error %v, want one starting \"swap: \" containing %q", err, want)
		}
	}
	t.Run("missing folder", func(t *testing.T) {
		_, err := LoadFaceSet(ctx, filepath.Join(t.TempDir(), "nope"), 64)
		check(t, err, "no such file")
	})
	t.Run("not an extract folder", func(t *testing.T) {
		_, err := LoadFaceSet(ctx, t.TempDir(), 64)
		check(t, err, "not an extract folder")
	})
	t.Run("no faces", func(t *testing.T) {
		dir := t.TempDir()
		writeJSON(t, filepath.Join(dir, extract.FileName), extract.Alignments{Version: 1, Frames: []extract.Frame{{Index: 0}}})
		_, err := LoadFaceSet(ctx, dir, 64)
		check(t, err, "no faces to train on")
	})
	t.Run("every crop deleted", func(t *testing.T) {
		dir, _, _ := writeExtractFolder(t, 64, 2)
		os.RemoveAll(filepath.Join(dir, "faces"))
		_, err := LoadFaceSet(ctx, dir, 64)
		check(t, err, "no faces to train on (2 listed")
	})
	t.Run("corrupt crop", func(t *testing.T) {
		dir, _, _ := writeExtractFolder(t, 64, 1)
		os.WriteFile(filepath.Join(dir, "faces", "astronaut_a.png"), []byte("not a png"), 0o644)
		_, err := LoadFaceSet(ctx, dir, 64)
		check(t, err, "astronaut_a.png")
	})
	t.Run("empty face folder through Train", func(t *testing.T) {
		dir := t.TempDir()
		writeJSON(t, filepath.Join(dir, extract.FileName), extract.Alignments{Version: 1})
		_, err := Train(ctx, dir, dir, filepath.Join(t.TempDir(), "m"), Options{Arch: mustArch(t, "light")})
		check(t, err, "no faces to train on")
	})
}

// The real extract output loads: every face, with a mask over it.
func TestLoadRealFaceSets(t *testing.T) {
	if testing.Short() {
		t.Skip("extracts faces from two videos")
	}
	a, b := realFaceSets(t)
	for _, dir := range []string{a, b} {
		set, err := LoadFaceSet(context.Background(), dir, 64)
		if err != nil {
			t.Fatal(err)
		}
		al, err := extract.ReadAlignments(filepath.Join(dir, extract.FileName))
		if err != nil {
			t.Fatal(err)
		}
		listed := 0
		for _, f := range al.Frames {
			listed += len(f.Faces)
		}
		if set.Len() < 70 || set.Len()+set.Skipped != listed {
			t.Errorf("%s: %d faces loaded + %d skipped, %d listed (want ≥ 70 loaded)", dir, set.Len(), set.Skipped, listed)
		}
		var cx, cy, n float64
		for _, m := range set.Mask {
			for i, v := range m {
				w := float64(v) / 255
				cx, cy, n = cx+w*float64(i%64), cy+w*float64(i/64), n+w
			}
		}
		cx, cy = cx/n, cy/n
		t.Logf("%s: %d faces, mask centroid (%.1f, %.1f), coverage %.2f", filepath.Base(dir), set.Len(), cx, cy, n/float64(64*64*set.Len()))
		if cx < 26 || cx > 38 || cy < 24 || cy > 40 {
			t.Errorf("%s: mask centroid (%.1f, %.1f) is not near the centre of the aligned crops", dir, cx, cy)
		}
	}
}
