// Package detecttest builds the test images that the detect and analyze
// tests share from the real sample media: decoded grey planes, dlib's
// reference faces, rotated copies and a composite group photo, each with
// dlib's reference boxes and landmarks mapped onto it.
package detecttest

import (
	"fmt"
	"image"
	_ "image/png" // the sample images are PNG
	"io"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/testmedia"
)

// LoadGray decodes a sample-media image into face.Gray's intensity plane.
func LoadGray(t testing.TB, name string) *image.Gray {
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

// Reference reads dlib's faces (upsample 1) for a reference image stem.
func Reference(t testing.TB, stem string) []face.Face {
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

// RealFaces is Reference without the one documented dlib false positive
// (the astronaut's mission patch, score 0.117, absent at upsample 2).
func RealFaces(t testing.TB, stem string) []face.Face {
	t.Helper()
	var real []face.Face
	for _, f := range Reference(t, stem) {
		if stem == "astronaut" && f.Box == (face.Box{Left: 126, Top: 335, Right: 215, Bottom: 425}) {
			continue
		}
		real = append(real, f)
	}
	return real
}

// Rotation maps points into an image of size w×h rotated by Deg degrees
// (clockwise on screen) about its centre.
type Rotation struct {
	Deg              float64
	cx, cy, sin, cos float64
}

// NewRotation is the rotation of a w×h image by deg clockwise.
func NewRotation(w, h int, deg float64) Rotation {
	s, c := math.Sincos(deg * math.Pi / 180)
	return Rotation{deg, float64(w-1) / 2, float64(h-1) / 2, s, c}
}

// Point maps one point.
func (r Rotation) Point(p face.Point) face.Point {
	dx, dy := p.X-r.cx, p.Y-r.cy
	return face.Point{X: r.cx + r.cos*dx - r.sin*dy, Y: r.cy + r.sin*dx + r.cos*dy}
}

// Face maps a face: landmarks rotated, box of the same size moved to the
// rotated centre (the Box+Angle convention of detect), Angle increased.
func (r Rotation) Face(f face.Face) face.Face {
	out := f
	c := r.Point(f.Box.Center())
	hw, hh := (f.Box.Width()-1)/2, (f.Box.Height()-1)/2
	out.Box = face.Box{Left: c.X - hw, Top: c.Y - hh, Right: c.X + hw, Bottom: c.Y + hh}
	out.Angle += r.Deg * math.Pi / 180
	out.Landmarks = make([]face.Point, len(f.Landmarks))
	for i, p := range f.Landmarks {
		out.Landmarks[i] = r.Point(p)
	}
	return out
}

// RotateGray rotates g by deg clockwise about its centre (bilinear, black
// where the source has no pixel).
func RotateGray(g *image.Gray, deg float64) *image.Gray {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	out := image.NewGray(image.Rect(0, 0, w, h))
	inv := NewRotation(w, h, -deg)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			s := inv.Point(face.Point{X: float64(x), Y: float64(y)})
			out.Pix[y*out.Stride+x] = Bilinear(g, s.X, s.Y)
		}
	}
	return out
}

// Bilinear reads g at (x, y), 0 outside.
func Bilinear(g *image.Gray, x, y float64) uint8 {
	x0, y0 := int(math.Floor(x)), int(math.Floor(y))
	if x0 < 0 || y0 < 0 || x0+1 >= g.Rect.Dx() || y0+1 >= g.Rect.Dy() {
		return 0
	}
	fx, fy := x-float64(x0), y-float64(y0)
	p := func(x, y int) float64 { return float64(g.Pix[y*g.Stride+x]) }
	v := (p(x0, y0)*(1-fx)+p(x0+1, y0)*fx)*(1-fy) + (p(x0, y0+1)*(1-fx)+p(x0+1, y0+1)*fx)*fy
	return uint8(v + 0.5)
}

// Pasted is one reference image's crop placed on a composite canvas.
type Pasted struct {
	Stem  string          // reference image stem
	Crop  image.Rectangle // region of the source image
	At    image.Point     // canvas position of the crop's top-left corner
	Scale float64
}

// Composite builds a group photo on a grey gradient canvas. It returns the
// canvas and dlib's real faces of every pasted crop mapped onto it (box and
// landmarks scaled and moved with the pixels).
func Composite(t testing.TB, w, h int, parts []Pasted) (*image.Gray, []face.Face) {
	t.Helper()
	canvas := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			canvas.Pix[y*canvas.Stride+x] = uint8(90 + 60*x/w + 40*y/h)
		}
	}
	var faces []face.Face
	for _, p := range parts {
		src := LoadGray(t, p.Stem+".png")
		cw, ch := int(float64(p.Crop.Dx())*p.Scale), int(float64(p.Crop.Dy())*p.Scale)
		if !image.Rect(p.At.X, p.At.Y, p.At.X+cw, p.At.Y+ch).In(canvas.Rect) {
			t.Fatalf("%s pasted at %v (%dx%d) leaves the %dx%d canvas", p.Stem, p.At, cw, ch, w, h)
		}
		// Pixel centres map as x' = (x - crop + 0.5)·s - 0.5 + at, so
		// scaling keeps the image and its landmarks aligned.
		to := func(v float64, crop, at int) float64 { return (v-float64(crop)+0.5)*p.Scale - 0.5 + float64(at) }
		from := func(v float64, crop, at int) float64 { return (v-float64(at)+0.5)/p.Scale - 0.5 + float64(crop) }
		for y := 0; y < ch; y++ {
			for x := 0; x < cw; x++ {
				sx := from(float64(p.At.X+x), p.Crop.Min.X, p.At.X)
				sy := from(float64(p.At.Y+y), p.Crop.Min.Y, p.At.Y)
				canvas.Pix[(p.At.Y+y)*canvas.Stride+p.At.X+x] = Bilinear(src, sx, sy)
			}
		}
		for _, f := range RealFaces(t, p.Stem) {
			b := f.Box
			m := face.Face{Box: face.Box{
				// The box covers pixels Left…Right: edges at Left-0.5 and Right+0.5.
				Left:   to(b.Left-0.5, p.Crop.Min.X, p.At.X) + 0.5,
				Top:    to(b.Top-0.5, p.Crop.Min.Y, p.At.Y) + 0.5,
				Right:  to(b.Right+0.5, p.Crop.Min.X, p.At.X) - 0.5,
				Bottom: to(b.Bottom+0.5, p.Crop.Min.Y, p.At.Y) - 0.5,
			}}
			for _, q := range f.Landmarks {
				m.Landmarks = append(m.Landmarks, face.Point{X: to(q.X, p.Crop.Min.X, p.At.X), Y: to(q.Y, p.Crop.Min.Y, p.At.Y)})
			}
			faces = append(faces, m)
		}
	}
	return canvas, faces
}

// GroupParts are four real faces at scales 0.5–1.5 on a 1200×600 canvas.
var GroupParts = []Pasted{
	{Stem: "franck_f1000", Crop: image.Rect(0, 0, 360, 288), At: image.Pt(10, 150), Scale: 1.5},
	{Stem: "astronaut", Crop: image.Rect(120, 20, 320, 230), At: image.Pt(580, 40), Scale: 1.0},
	{Stem: "face_swapped", Crop: image.Rect(40, 30, 280, 270), At: image.Pt(600, 330), Scale: 0.8},
	{Stem: "franck_f3000", Crop: image.Rect(60, 0, 360, 288), At: image.Pt(900, 200), Scale: 0.5},
}

// MeanError is the mean distance between corresponding landmarks in
// percent of the reference's outer eye-corner distance.
func MeanError(got, ref []face.Point) float64 {
	if len(got) != len(ref) || len(ref) < face.NumLandmarks {
		return math.Inf(1)
	}
	var sum float64
	for i := range ref {
		sum += math.Hypot(got[i].X-ref[i].X, got[i].Y-ref[i].Y)
	}
	return 100 * sum / float64(len(ref)) / face.EyeDistance(ref)
}

// VideoFrames decodes the frames of a sample video whose 0-based index
// satisfies keep, with ffmpeg (as REFERENCE.md decodes them: bit-exact
// decoder, accurate-rounding RGB conversion), and returns their face.Gray
// planes and indices.
func VideoFrames(t testing.TB, name string, keep func(n int) bool) ([]*image.Gray, []int) {
	t.Helper()
	path := testmedia.Path(t, name)
	probe, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0",
		"-show_entries", "stream=width,height", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", name, err)
	}
	var w, h int
	if _, err := fmt.Sscanf(strings.TrimSpace(string(probe)), "%d,%d", &w, &h); err != nil {
		t.Fatalf("ffprobe %s: %q: %v", name, probe, err)
	}
	cmd := exec.Command("ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-flags", "+bitexact",
		"-i", path, "-vf", "scale=flags=bicubic+accurate_rnd+full_chroma_int+bitexact,format=rgb24",
		"-f", "rawvideo", "-")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("ffmpeg: %v", err)
	}
	var frames []*image.Gray
	var indices []int
	buf := make([]byte, w*h*3)
	for n := 0; ; n++ {
		if _, err := io.ReadFull(out, buf); err != nil {
			break
		}
		if !keep(n) {
			continue
		}
		g := image.NewGray(image.Rect(0, 0, w, h))
		for i := range g.Pix {
			g.Pix[i] = uint8((int(buf[3*i]) + int(buf[3*i+1]) + int(buf[3*i+2])) / 3)
		}
		frames = append(frames, g)
		indices = append(indices, n)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ffmpeg %s: %v", name, err)
	}
	return frames, indices
}
