package detect

import (
	"image"
	_ "image/png"
	"math"
	"os"
	"testing"

	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/testmedia"
)

// loadGray decodes a sample-media image into the intensity plane.
func loadGray(t testing.TB, name string) *image.Gray {
	t.Helper()
	f, err := os.Open(testmedia.Path(t, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return face.Gray(img)
}

// reference reads dlib's faces for a reference image.
func reference(t testing.TB, stem string) []face.Face {
	t.Helper()
	r, err := face.ReadImageResult(testmedia.Reference(t, stem+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var faces []face.Face
	for _, j := range r.Faces {
		faces = append(faces, face.FromJSON(j))
	}
	return faces
}

// isPatchFalsePositive is the one documented dlib false positive (the
// astronaut's mission patch, absent at upsample 2).
func isPatchFalsePositive(stem string, f face.Face) bool {
	return stem == "astronaut" && f.Box == face.Box{Left: 126, Top: 335, Right: 215, Bottom: 425}
}

// rotation maps points of an image of size w×h rotated by deg (clockwise
// on screen) about its centre.
type rotation struct{ cx, cy, sin, cos float64 }

func newRotation(w, h int, deg float64) rotation {
	s, c := math.Sincos(deg * math.Pi / 180)
	return rotation{float64(w-1) / 2, float64(h-1) / 2, s, c}
}

func (r rotation) apply(p face.Point) face.Point {
	dx, dy := p.X-r.cx, p.Y-r.cy
	return face.Point{X: r.cx + r.cos*dx - r.sin*dy, Y: r.cy + r.sin*dx + r.cos*dy}
}

// rotateGray rotates g by deg clockwise about its centre, bilinear, with
// black outside the source.
func rotateGray(g *image.Gray, deg float64) *image.Gray {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	out := image.NewGray(image.Rect(0, 0, w, h))
	inv := newRotation(w, h, -deg)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			s := inv.apply(face.Point{X: float64(x), Y: float64(y)})
			out.Pix[y*out.Stride+x] = bilinear(g, s.X, s.Y)
		}
	}
	return out
}

func bilinear(g *image.Gray, x, y float64) uint8 {
	x0, y0 := int(math.Floor(x)), int(math.Floor(y))
	if x0 < 0 || y0 < 0 || x0+1 >= g.Rect.Dx() || y0+1 >= g.Rect.Dy() {
		return 0
	}
	fx, fy := x-float64(x0), y-float64(y0)
	p := func(x, y int) float64 { return float64(g.Pix[y*g.Stride+x]) }
	v := (p(x0, y0)*(1-fx)+p(x0+1, y0)*fx)*(1-fy) + (p(x0, y0+1)*(1-fx)+p(x0+1, y0+1)*fx)*fy
	return uint8(v + 0.5)
}

// pasted is one face placed on a composite canvas.
type pasted struct {
	name string
	crop image.Rectangle // region of the source image
	at   image.Point     // canvas position of the crop's top-left corner
	s    float64         // scale
}

// composite builds a group photo on a grey gradient canvas; it returns the
// canvas and dlib's reference box of each pasted face mapped onto it.
func composite(t testing.TB, w, h int, parts []pasted) (*image.Gray, []face.Box) {
	t.Helper()
	canvas := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			canvas.Pix[y*canvas.Stride+x] = uint8(90 + 60*x/w + 40*y/h)
		}
	}
	var boxes []face.Box
	for _, p := range parts {
		src := loadGray(t, p.name+".png")
		cw, ch := int(float64(p.crop.Dx())*p.s), int(float64(p.crop.Dy())*p.s)
		for y := 0; y < ch; y++ {
			for x := 0; x < cw; x++ {
				// Pixel centres map as (x+0.5)/s-0.5 so scaling keeps alignment.
				sx := float64(p.crop.Min.X) + (float64(x)+0.5)/p.s - 0.5
				sy := float64(p.crop.Min.Y) + (float64(y)+0.5)/p.s - 0.5
				canvas.Pix[(p.at.Y+y)*canvas.Stride+p.at.X+x] = bilinear(src, sx, sy)
			}
		}
		for _, f := range reference(t, p.name) {
			if isPatchFalsePositive(p.name, f) {
				continue
			}
			m := func(v, o, at float64) float64 { return (v-o+0.5)*p.s - 0.5 + at }
			b := f.Box
			boxes = append(boxes, face.Box{
				Left:   m(b.Left-0.5, float64(p.crop.Min.X), float64(p.at.X)) + 0.5,
				Top:    m(b.Top-0.5, float64(p.crop.Min.Y), float64(p.at.Y)) + 0.5,
				Right:  m(b.Right+0.5, float64(p.crop.Min.X), float64(p.at.X)) - 0.5,
				Bottom: m(b.Bottom+0.5, float64(p.crop.Min.Y), float64(p.at.Y)) - 0.5,
			})
		}
	}
	return canvas, boxes
}

// groupParts are four real faces at scales 0.5–1.5 on a 1200×600 canvas.
var groupParts = []pasted{
	{name: "franck_f1000", crop: image.Rect(0, 0, 360, 288), at: image.Pt(10, 150), s: 1.5},
	{name: "astronaut", crop: image.Rect(120, 20, 320, 230), at: image.Pt(580, 40), s: 1.0},
	{name: "face_swapped", crop: image.Rect(40, 30, 280, 270), at: image.Pt(600, 330), s: 0.8},
	{name: "franck_f3000", crop: image.Rect(60, 0, 360, 288), at: image.Pt(900, 200), s: 0.5},
}
