package detect

import (
	"image"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/facesynth/facesynth/internal/detect/detecttest"
	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/testmedia"
)

var (
	defaultOnce sync.Once
	defaultDet  *Detector
	defaultErr  error
)

// detector is the default detector, loaded once for all tests.
func detector(t testing.TB) *Detector {
	t.Helper()
	defaultOnce.Do(func() { defaultDet, defaultErr = New(DefaultOptions()) })
	if defaultErr != nil {
		t.Fatal(defaultErr)
	}
	return defaultDet
}

// bestIoU is the largest IoU between b and any of faces, and its index.
func bestIoU(b face.Box, faces []face.Face) (float64, int) {
	best, at := 0.0, -1
	for i, f := range faces {
		if v := b.IoU(f.Box); v > best {
			best, at = v, i
		}
	}
	return best, at
}

// TestRecallVsDlib: every real face dlib finds on the 12 reference images
// is found with IoU >= 0.5 against dlib's box (the calibration in
// calibration.go was not fitted on these images), and nothing else is
// reported.
func TestRecallVsDlib(t *testing.T) {
	d := detector(t)
	found, total, extra := 0, 0, 0
	var ious []float64
	for _, stem := range testmedia.ReferenceImages {
		g := detecttest.LoadGray(t, stem+".png")
		dets := d.Detect(g)
		matched := make([]bool, len(dets))
		for _, r := range detecttest.RealFaces(t, stem) {
			total++
			iou, at := bestIoU(r.Box, dets)
			if iou >= 0.5 {
				found++
				matched[at] = true
				ious = append(ious, iou)
			} else {
				t.Errorf("%s: dlib face %v not found (best IoU %.2f)", stem, r.Box, iou)
			}
		}
		for i, m := range matched {
			if !m {
				extra++
				t.Logf("%s: extra detection %v score %.1f angle %.1f°", stem, dets[i].Box, dets[i].Score, dets[i].Angle*180/math.Pi)
			}
		}
	}
	mean, worst := 0.0, 1.0
	for _, v := range ious {
		mean += v / float64(len(ious))
		worst = math.Min(worst, v)
	}
	t.Logf("recall %d/%d, extra detections %d, IoU with dlib mean %.3f min %.3f", found, total, extra, mean, worst)
	if total != 12 {
		t.Fatalf("reference set has %d real faces, want 12", total)
	}
	if found != total {
		t.Errorf("recall %d/%d, want all", found, total)
	}
	if extra != 0 {
		t.Errorf("%d extra detections, want 0", extra)
	}
	if mean < 0.75 {
		t.Errorf("mean IoU with dlib %.3f, want >= 0.75", mean)
	}
}

// TestTiltedFaces: astronaut.png rotated clockwise by deg is found at the
// rotated dlib box, with Angle of the same sign within half a search step.
func TestTiltedFaces(t *testing.T) {
	if testing.Short() {
		t.Skip("rotated search on four 512×512 images")
	}
	d := detector(t)
	g := detecttest.LoadGray(t, "astronaut.png")
	ref := detecttest.RealFaces(t, "astronaut")[0]
	for _, deg := range []float64{-35, -20, 20, 35} {
		want := detecttest.NewRotation(g.Rect.Dx(), g.Rect.Dy(), deg).Face(ref).Box
		dets := d.Detect(detecttest.RotateGray(g, deg))
		iou, at := bestIoU(want, dets)
		if iou < 0.5 {
			t.Errorf("%+v°: face not found (best IoU %.2f, %d detections)", deg, iou, len(dets))
			continue
		}
		got := dets[at].Angle * 180 / math.Pi
		t.Logf("%+v°: found at %+.2f°, IoU %.2f, score %.1f, %d detections", deg, got, iou, dets[at].Score, len(dets))
		if math.Abs(got-deg) > 12.5 {
			t.Errorf("%+v°: Angle %+.2f°, want within 12.5°", deg, got)
		}
		if len(dets) != 1 {
			t.Errorf("%+v°: %d detections, want 1", deg, len(dets))
			for _, f := range dets {
				t.Logf("   %v score %.1f angle %.1f°", f.Box, f.Score, f.Angle*180/math.Pi)
			}
		}
	}
}

// TestAngleConvention pins the sign: a face rotated clockwise on screen is
// found only by the search step for a positive angle.
func TestAngleConvention(t *testing.T) {
	g := detecttest.RotateGray(detecttest.LoadGray(t, "astronaut.png"), 40)
	score := func(deg float64) float64 {
		o := DefaultOptions()
		o.Angles = []float64{deg}
		d, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		best := 0.0
		for _, f := range d.Detect(g) {
			best = math.Max(best, f.Score)
		}
		return best
	}
	plus, minus := score(45), score(-45)
	t.Logf("face rotated +40°: best score searching +45° %.1f, -45° %.1f", plus, minus)
	if plus < 20 || minus > 10 {
		t.Errorf("searching +45° scores %.1f (want >= 20), -45° %.1f (want < 10)", plus, minus)
	}
}

// TestGroupPhoto: four faces at scales 0.5–1.5 on one canvas are all found,
// and nothing else.
func TestGroupPhoto(t *testing.T) {
	g, want := detecttest.Composite(t, 1200, 600, detecttest.GroupParts)
	dets := detector(t).Detect(g)
	matched := make([]bool, len(dets))
	for _, f := range want {
		b := f.Box
		iou, at := bestIoU(b, dets)
		if iou < 0.5 {
			t.Errorf("face %v (width %.0f) not found (best IoU %.2f)", b, b.Width(), iou)
			continue
		}
		matched[at] = true
		t.Logf("face width %.0f found, IoU %.2f score %.1f", b.Width(), iou, dets[at].Score)
	}
	for i, m := range matched {
		if !m {
			t.Errorf("extra detection %v score %.1f", dets[i].Box, dets[i].Score)
		}
	}
	for i := 1; i < len(dets); i++ {
		if dets[i].Score > dets[i-1].Score {
			t.Errorf("faces not sorted by score: %.1f after %.1f", dets[i].Score, dets[i-1].Score)
		}
	}
}

// TestNoFace: a smooth gradient and the astronaut's background (the shuttle
// model and backdrop) hold no face.
func TestNoFace(t *testing.T) {
	d := detector(t)
	grad := image.NewGray(image.Rect(0, 0, 400, 300))
	for y := 0; y < 300; y++ {
		for x := 0; x < 400; x++ {
			grad.Pix[y*grad.Stride+x] = uint8((x*200/400 + y*55/300))
		}
	}
	if got := d.Detect(grad); len(got) != 0 {
		t.Errorf("gradient: %d faces, first %+v", len(got), got[0])
	}
	bg := detecttest.LoadGray(t, "astronaut.png").SubImage(image.Rect(300, 0, 512, 330)).(*image.Gray)
	if got := d.Detect(bg); len(got) != 0 {
		t.Errorf("astronaut background: %d faces, first %+v", len(got), got[0])
	}
}

// TestSubImageCoordinates: boxes are in the coordinates of the image
// passed in, so a sub-image reports the same face where it is.
func TestSubImageCoordinates(t *testing.T) {
	d := detector(t)
	g := detecttest.LoadGray(t, "franck_f1000.png")
	full := d.Detect(g)
	sub := d.Detect(g.SubImage(image.Rect(40, 20, 360, 288)).(*image.Gray))
	if len(full) == 0 || len(sub) == 0 {
		t.Fatalf("faces: full %d, sub-image %d", len(full), len(sub))
	}
	if iou := full[0].Box.IoU(sub[0].Box); iou < 0.8 {
		t.Errorf("sub-image box %v vs full-image box %v: IoU %.2f, want >= 0.8", sub[0].Box, full[0].Box, iou)
	}
}

// TestConcurrentDetect: one Detector used from several goroutines gives
// each the same faces as a lone call.
func TestConcurrentDetect(t *testing.T) {
	d := detector(t)
	g := detecttest.LoadGray(t, "face_swapped.png")
	want := d.Detect(g)
	if len(want) != 1 {
		t.Fatalf("%d faces, want 1", len(want))
	}
	got := make([][]face.Face, 4)
	var wg sync.WaitGroup
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = d.Detect(g)
		}()
	}
	wg.Wait()
	for i, faces := range got {
		if len(faces) != 1 || faces[0].Box != want[0].Box || faces[0].Score != want[0].Score || faces[0].Angle != want[0].Angle {
			t.Errorf("goroutine %d: %+v, want %+v", i, faces, want)
		}
	}
}

// TestMaxSize: a MaxSize below the face's window size finds nothing, one
// above it finds the face.
func TestMaxSize(t *testing.T) {
	g := detecttest.LoadGray(t, "franck_f1000.png")
	for _, c := range []struct{ max, want int }{{100, 0}, {220, 1}} {
		o := DefaultOptions()
		o.MaxSize = c.max
		d, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Detect(g); len(got) != c.want {
			t.Errorf("MaxSize %d: %d faces, want %d", c.max, len(got), c.want)
		}
	}
}

func TestSmallOrNilImage(t *testing.T) {
	d := detector(t)
	if got := d.Detect(nil); got != nil {
		t.Errorf("nil image: %v", got)
	}
	if got := d.Detect(image.NewGray(image.Rect(0, 0, 30, 500))); len(got) != 0 {
		t.Errorf("30 px wide image: %v", got)
	}
	if got := d.Detect(image.NewGray(image.Rect(0, 0, 0, 0))); len(got) != 0 {
		t.Errorf("empty image: %v", got)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for name, change := range map[string]func(*Options){
		"MinSize":     func(o *Options) { o.MinSize = 2 },
		"MaxSize":     func(o *Options) { o.MaxSize = o.MinSize - 1 },
		"ShiftFactor": func(o *Options) { o.ShiftFactor = 0 },
		"ScaleFactor": func(o *Options) { o.ScaleFactor = 1 },
		"IoU":         func(o *Options) { o.IoU = 1.5 },
		"Angles":      func(o *Options) { o.Angles = nil },
		"angle":       func(o *Options) { o.Angles = []float64{0, 120} },
	} {
		o := DefaultOptions()
		change(&o)
		_, err := New(o)
		if err == nil || !strings.HasPrefix(err.Error(), "detect: ") {
			t.Errorf("%s: err = %v, want a detect: error", name, err)
		}
	}
}

func TestUnpackRejectsBadCascade(t *testing.T) {
	good := make([]byte, 16+2*(8<<2))
	good[8], good[12] = 2, 2 // depth 2, two trees
	if _, err := unpack(good); err != nil {
		t.Fatalf("well-formed cascade: %v", err)
	}
	for name, data := range map[string][]byte{
		"empty":     nil,
		"truncated": good[:len(good)-1],
		"no trees":  append(append([]byte{}, good[:12]...), 0, 0, 0, 0),
	} {
		if _, err := unpack(data); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestAngleSteps(t *testing.T) {
	steps, err := angleSteps([]float64{25, 0, -15, 22.5, -45})
	if err != nil {
		t.Fatal(err)
	}
	var got []float64
	for _, s := range steps {
		got = append(got, stepDegrees(s))
	}
	// 25° and 22.5° round to the same 1/32-turn step; 0 comes first.
	want := []float64{0, -11.25, 22.5, -45}
	if len(got) != len(want) {
		t.Fatalf("steps %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("steps %v, want %v", got, want)
		}
	}
}

func benchmarkDetect(b *testing.B, angles []float64) {
	o := DefaultOptions()
	if angles != nil {
		o.Angles = angles
	}
	d, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	g := detecttest.LoadGray(b, "franck_f1000.png")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if len(d.Detect(g)) != 1 {
			b.Fatal("want one face")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/frame")
}

// BenchmarkDetect: one 360×288 franck frame, default angles.
func BenchmarkDetect(b *testing.B) { benchmarkDetect(b, nil) }

// BenchmarkDetectUpright: the same frame, 0° only.
func BenchmarkDetectUpright(b *testing.B) { benchmarkDetect(b, []float64{0}) }
