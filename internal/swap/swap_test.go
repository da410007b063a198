package swap

import (
	"image"
	"strings"
	"testing"
)

func TestSwapAPI(t *testing.T) {
	tr := newTestTrainer(t, 8, smallConfig())
	steps(t, tr, 1)
	dir := t.TempDir()
	if err := tr.SaveCheckpoint(dir, State{}); err != nil {
		t.Fatal(err)
	}
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Size() != 64 || m.Arch.Name != "light" {
		t.Fatalf("loaded %s at %d px", m.Arch.Name, m.Size())
	}
	// Crops of any size; 20 of them span two inference chunks.
	var crops []image.Image
	for i := range 20 {
		s := 64 + 16*(i%3)
		img := image.NewRGBA(image.Rect(0, 0, s, s))
		for p := 0; p < len(img.Pix); p += 4 {
			img.Pix[p], img.Pix[p+1], img.Pix[p+2], img.Pix[p+3] = uint8(10*i), uint8(p/4%s), 90, 255
		}
		crops = append(crops, img)
	}
	faces, masks, err := m.Swap(crops, AToB)
	if err != nil {
		t.Fatal(err)
	}
	if len(faces) != 20 || len(masks) != 20 || faces[19].Bounds() != image.Rect(0, 0, 64, 64) || masks[0].Bounds() != image.Rect(0, 0, 64, 64) {
		t.Fatalf("%d faces, %d masks, sizes %v %v", len(faces), len(masks), faces[19].Bounds(), masks[0].Bounds())
	}
	// A→B is decoding with B; B→A with A; they differ.
	viaB, _, err := m.Render(crops[:3], B)
	if err != nil {
		t.Fatal(err)
	}
	viaA, _, err := m.Swap(crops[:3], BToA)
	if err != nil {
		t.Fatal(err)
	}
	for i := range viaB {
		if string(viaB[i].Pix) != string(faces[i].Pix) {
			t.Errorf("crop %d: Swap(AToB) differs from Render(B)", i)
		}
		if string(viaA[i].Pix) == string(faces[i].Pix) {
			t.Errorf("crop %d: BToA gives the same face as AToB", i)
		}
	}
	// The same crop alone or in a batch gives the same face.
	one, _, err := m.Swap(crops[5:6], AToB)
	if err != nil {
		t.Fatal(err)
	}
	for i := range one[0].Pix {
		if d := int(one[0].Pix[i]) - int(faces[5].Pix[i]); d > 1 || d < -1 {
			t.Fatalf("crop 5 alone differs from crop 5 in a batch at byte %d: %d vs %d", i, one[0].Pix[i], faces[5].Pix[i])
		}
	}
	if _, _, err := m.Swap([]image.Image{crops[0], image.NewRGBA(image.Rect(0, 0, 0, 0))}, AToB); err == nil ||
		!strings.Contains(err.Error(), "crop 1 is empty") {
		t.Errorf("empty crop: %v", err)
	}
}

func TestPreviewGrid(t *testing.T) {
	tr := newTestTrainer(t, 8, smallConfig())
	img, err := tr.Preview(previewFaces)
	if err != nil {
		t.Fatal(err)
	}
	// Sets of 3 and 4 faces: 4 columns, 6 rows of 64 px with 2 px gaps,
	// a 40 px label column.
	if want := image.Rect(0, 0, 40+4*66, 6*66); img.Bounds() != want {
		t.Errorf("preview %v, want %v", img.Bounds(), want)
	}
	// Row 0 shows A's first face as is.
	src := tr.Sets[A].RGB[0]
	for _, p := range [][2]int{{0, 0}, {10, 30}, {63, 63}} {
		c := img.RGBAAt(40+p[0], p[1])
		i := 3 * (p[1]*64 + p[0])
		if c.R != src[i] || c.G != src[i+1] || c.B != src[i+2] {
			t.Errorf("preview pixel %v: %v, want %v", p, c, src[i:i+3])
		}
	}
}
