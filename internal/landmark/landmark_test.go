package landmark

import (
	"image"
	"image/png"
	"math"
	"os"
	"sync"
	"testing"

	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/testmedia"
)

func defaultPredictor(t testing.TB) *Predictor {
	t.Helper()
	p, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func grayPNG(t testing.TB, name string) *image.Gray {
	t.Helper()
	f, err := os.Open(testmedia.Path(t, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return face.Gray(img)
}

// roundHalfUp is dlib::point's conversion: floor(v + 0.5).
func roundHalfUp(p face.Point) face.Point {
	return face.Point{X: math.Floor(p.X + 0.5), Y: math.Floor(p.Y + 0.5)}
}

type refFace struct {
	image string
	face  face.Face
}

// referenceFaces are all dlib faces of all reference JSONs (upsample 1 and
// 2), with dlib's own boxes.
func referenceFaces(t testing.TB) []refFace {
	t.Helper()
	var out []refFace
	for _, stem := range testmedia.ReferenceImages {
		for _, name := range []string{stem + ".json", stem + ".up2.json"} {
			path := testmedia.Reference(t, name)
			if _, err := os.Stat(path); err != nil && name != stem+".json" {
				continue
			}
			res, err := face.ReadImageResult(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, fj := range res.Faces {
				out = append(out, refFace{image: stem + ".png", face: face.FromJSON(fj)})
			}
		}
	}
	return out
}

func TestPredictMatchesDlib(t *testing.T) {
	p := defaultPredictor(t)
	faces := referenceFaces(t)
	if len(faces) != 14 {
		t.Fatalf("%d reference faces, want 14 (13 at upsample 1, 1 at upsample 2)", len(faces))
	}
	grays := map[string]*image.Gray{}
	var sumErr, maxErr float64
	var nPts, exact int
	for _, rf := range faces {
		g := grays[rf.image]
		if g == nil {
			g = grayPNG(t, rf.image)
			grays[rf.image] = g
		}
		got := p.Predict(g, rf.face.Box)
		want := rf.face.Landmarks
		if len(got) != 68 || len(want) != 68 {
			t.Fatalf("%s %v: %d points, reference %d", rf.image, rf.face.Box, len(got), len(want))
		}
		var faceSum, faceMax float64
		faceExact := 0
		for i := range got {
			r := roundHalfUp(got[i])
			if r == want[i] {
				faceExact++
			}
			e := math.Hypot(r.X-want[i].X, r.Y-want[i].Y)
			faceSum += e
			faceMax = math.Max(faceMax, e)
		}
		eye := face.EyeDistance(want)
		t.Logf("%-17s box %v: %2d/68 identical, mean %.3f px (%.3f %% of eye distance %.1f), max %.2f px",
			rf.image, rf.face.Box, faceExact, faceSum/68, 100*faceSum/68/eye, eye, faceMax)
		if pct := 100 * faceSum / 68 / eye; pct > 0.5 {
			t.Errorf("%s %v: mean error %.3f %% of eye distance, want ≤ 0.5 %%", rf.image, rf.face.Box, pct)
		}
		if faceMax > 1.5 {
			t.Errorf("%s %v: max point error %.2f px, want ≤ 1.5 px", rf.image, rf.face.Box, faceMax)
		}
		sumErr += faceSum
		maxErr = math.Max(maxErr, faceMax)
		nPts += 68
		exact += faceExact
	}
	t.Logf("all %d faces: %d/%d points identical to dlib after rounding, mean error %.4f px, max %.2f px",
		len(faces), exact, nPts, sumErr/float64(nPts), maxErr)
	// The arithmetic replicates dlib's, so beyond the tolerances above
	// nearly every point must be dlib's exactly; only a float64 rounding
	// difference in the similarity fit may move a rare feature pixel.
	if exact < nPts*99/100 {
		t.Errorf("only %d/%d points identical to dlib, want ≥ 99 %%", exact, nPts)
	}
}

// TestPredictRectOffset checks that a sub-image (whose Rect does not start
// at (0,0)) gives the same points as the full image: coordinates stay in
// the image's own space.
func TestPredictRectOffset(t *testing.T) {
	p := defaultPredictor(t)
	g := grayPNG(t, "astronaut.png")
	box := face.Box{Left: 175, Top: 76, Right: 265, Bottom: 166}
	want := p.Predict(g, box)
	sub := g.SubImage(image.Rect(100, 40, 400, 300)).(*image.Gray)
	got := p.Predict(sub, box)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("point %d: %v in a sub-image, %v in the full image", i, got[i], want[i])
		}
	}
	// A sub-image that cuts the face reads zeros outside, as dlib does at the
	// image border, so the points must move.
	cut := g.SubImage(image.Rect(220, 0, 512, 512)).(*image.Gray)
	moved := p.Predict(cut, box)
	if moved[0] == want[0] && moved[8] == want[8] {
		t.Errorf("cutting the face's left half did not move the jaw: %v %v", moved[0], moved[8])
	}
}

func TestPredictConcurrent(t *testing.T) {
	p := defaultPredictor(t)
	g := grayPNG(t, "franck_f0000.png")
	res, err := face.ReadImageResult(testmedia.Reference(t, "franck_f0000.json"))
	if err != nil {
		t.Fatal(err)
	}
	box := face.FromJSON(res.Faces[0]).Box
	want := p.Predict(g, box)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				got := p.Predict(g, box)
				for i := range got {
					if got[i] != want[i] {
						errs <- "concurrent Predict gave a different result"
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

func TestPredictDegenerateInput(t *testing.T) {
	p := defaultPredictor(t)
	if got := p.Predict(nil, face.Box{Right: 10, Bottom: 10}); got != nil {
		t.Errorf("nil image: got %d points, want nil", len(got))
	}
	g := image.NewGray(image.Rect(0, 0, 8, 8))
	for _, box := range []face.Box{
		{}, // zero box
		{Left: 1e12, Top: -1e12, Right: 2e12, Bottom: 3e12}, // far outside
		{Left: math.NaN(), Top: 0, Right: 10, Bottom: 10},
		{Left: 0, Top: 0, Right: math.Inf(1), Bottom: 10},
		{Left: 0, Top: 0, Right: 0, Bottom: 0},
		{Left: 0, Top: 0, Right: 0, Bottom: 0},
	} {
		if got := p.Predict(g, box); len(got) != 68 {
			t.Errorf("box %v: %d points, want 68", box, len(got))
		}
	}
	// An image whose Pix does not cover its Rect is refused, not indexed.
	bad := &image.Gray{Rect: image.Rect(0, 0, 200, 200), Stride: 200, Pix: make([]uint8, 200*199)}
	if got := p.Predict(bad, face.Box{Right: 199, Bottom: 199}); got != nil {
		t.Errorf("short Pix: got %d points, want nil", len(got))
	}
	bad.Pix = append(bad.Pix, make([]uint8, 200)...)
	if got := p.Predict(bad, face.Box{Right: 199, Bottom: 199}); len(got) != 68 {
		t.Errorf("exact Pix: got %d points, want 68", len(got))
	}
	// An empty image reads zeros everywhere and must not index Pix.
	if got := p.Predict(&image.Gray{}, face.Box{Right: 10, Bottom: 10}); len(got) != 68 {
		t.Errorf("empty image: %d points", len(got))
	}
}

func TestMeanShape(t *testing.T) {
	p := defaultPredictor(t)
	if p.NumParts() != 68 {
		t.Fatalf("NumParts = %d, want 68", p.NumParts())
	}
	m := p.MeanShape()
	if len(m) != 68 {
		t.Fatalf("MeanShape has %d points", len(m))
	}
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, q := range m {
		minX, maxX = math.Min(minX, q.X), math.Max(maxX, q.X)
		minY, maxY = math.Min(minY, q.Y), math.Max(maxY, q.Y)
	}
	t.Logf("mean shape spans x [%.4f, %.4f], y [%.4f, %.4f]; eye distance %.4f", minX, maxX, minY, maxY, face.EyeDistance(m))
	if minX < -0.1 || minY < -0.1 || maxX > 1.1 || maxY > 1.1 || maxX-minX < 0.8 || maxY-minY < 0.7 {
		t.Errorf("mean shape spans x [%.3f, %.3f], y [%.3f, %.3f], want roughly [0,1]²", minX, maxX, minY, maxY)
	}
	// Left outer eye corner (36) is left of the right one (45), the nose tip
	// (30) is between them and below, the chin (8) lowest.
	if !(m[36].X < m[30].X && m[30].X < m[45].X && m[30].Y > m[36].Y && m[8].Y == maxY) {
		t.Errorf("mean shape is not an upright face: 36=%v 30=%v 45=%v 8=%v", m[36], m[30], m[45], m[8])
	}
}

func TestBoxFromShape(t *testing.T) {
	p := defaultPredictor(t)
	// The mean shape placed in a box gives that box back exactly.
	box := face.Box{Left: 100, Top: 50, Right: 180, Bottom: 130}
	placed := make([]face.Point, 68)
	for i, q := range p.MeanShape() {
		placed[i] = face.Point{X: box.Left + q.X*(box.Right-box.Left), Y: box.Top + q.Y*(box.Bottom-box.Top)}
	}
	back := p.BoxFromShape(placed)
	if d := math.Max(math.Max(math.Abs(back.Left-box.Left), math.Abs(back.Top-box.Top)),
		math.Max(math.Abs(back.Right-box.Right), math.Abs(back.Bottom-box.Bottom))); d > 1e-9 {
		t.Errorf("BoxFromShape(mean shape in %v) = %v", box, back)
	}

	// On real faces the predicted shape is not the mean shape, so the box
	// comes back only approximately.
	for _, stem := range []string{"astronaut", "franck_f0000", "face_swapped"} {
		res, err := face.ReadImageResult(testmedia.Reference(t, stem+".json"))
		if err != nil {
			t.Fatal(err)
		}
		f := face.FromJSON(res.Faces[0])
		pts := p.Predict(grayPNG(t, stem+".png"), f.Box)
		got := p.BoxFromShape(pts)
		iou := got.IoU(f.Box)
		t.Logf("%s: dlib box %v, BoxFromShape %.1f,%.1f,%.1f,%.1f: IoU %.3f", stem, f.Box, got.Left, got.Top, got.Right, got.Bottom, iou)
		if iou < 0.8 {
			t.Errorf("%s: IoU(BoxFromShape(Predict(box)), box) = %.3f, want ≥ 0.8", stem, iou)
		}
		// A tracker re-predicts from the derived box: the landmarks must
		// stay put although the box moved.
		again := p.Predict(grayPNG(t, stem+".png"), got)
		var drift float64
		for i := range pts {
			drift += math.Hypot(again[i].X-pts[i].X, again[i].Y-pts[i].Y) / 68
		}
		eye := face.EyeDistance(pts)
		t.Logf("%s: Predict(BoxFromShape(pts)) moves points by %.2f px on average (%.2f %% of eye distance)", stem, drift, 100*drift/eye)
		if drift > 0.05*eye {
			t.Errorf("%s: re-prediction from the derived box drifts %.2f px, want ≤ 5 %% of eye distance %.1f", stem, drift, eye)
		}
	}

	if b := p.BoxFromShape(placed[:10]); b != (face.Box{}) {
		t.Errorf("10 points: got %v, want the zero box", b)
	}
}

func BenchmarkPredict(b *testing.B) {
	p := defaultPredictor(b)
	g := grayPNG(b, "astronaut.png")
	box := face.Box{Left: 175, Top: 76, Right: 265, Bottom: 166}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		p.Predict(g, box)
	}
}

func BenchmarkLoad(b *testing.B) {
	path := "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"
	for range b.N {
		if _, err := Load(path); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPredictReferenceFaces cycles through all 14 reference faces, so
// the leaves reached differ from call to call as in a real video.
func BenchmarkPredictReferenceFaces(b *testing.B) {
	p := defaultPredictor(b)
	faces := referenceFaces(b)
	grays := make([]*image.Gray, len(faces))
	for i, rf := range faces {
		grays[i] = grayPNG(b, rf.image)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		k := i % len(faces)
		p.Predict(grays[k], faces[k].face.Box)
	}
}
