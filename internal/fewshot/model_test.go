package fewshot

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/facesynth/facesynth/internal/align"
	"github.com/facesynth/facesynth/internal/analyze"
	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/testmedia"
	"github.com/facesynth/facesynth/internal/torch"
)

func needTorch(t testing.TB) {
	if !torch.Available {
		t.Skip("built without libtorch")
	}
}

// astronautShot is the astronaut's face as a Shot.
func astronautShot(t testing.TB) Shot {
	s, err := ReadPhotoShot(testmedia.Path(t, "astronaut.png"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestShapes: every box of the figure gives the shape it promises, G uses
// up exactly ψ̂'s psiLen() entries, and the spectrally normalised critic's
// largest singular value is 1 after a few power-iteration passes.
func TestShapes(t *testing.T) {
	needTorch(t)
	torch.ManualSeed(1)
	m, err := newModel(3)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	sh := astronautShot(t)
	b := newBatch(2, 3)
	b.fill(0, 2, []Shot{sh, sh, sh, sh}, []int{0, 1, 2, 3})
	b.fill(1, 0, []Shot{sh, sh, sh, sh}, []int{3, 2, 1, 0})
	scope := torch.NewScope()
	defer scope.Close()
	img := torch.FromFloat32(b.shots, 6, 3, Size, Size)
	sk := torch.FromFloat32(b.shotSketches, 6, 3, Size, Size)
	e := m.E.Forward(img, sk)
	if got := e.Shape(); len(got) != 2 || got[0] != 6 || got[1] != EmbedDim {
		t.Errorf("E gives %v, want [6 %d]", got, EmbedDim)
	}
	psi := m.psi(torch.Narrow(e, 0, 0, 2))
	a := &adaParams{psi: psi}
	x := torch.FromFloat32(b.sketch, 2, 3, Size, Size)
	for _, d := range m.G.downs {
		x = d.forward(x)
	}
	for _, r := range m.G.res {
		x = r.forward(x, a)
	}
	for _, u := range m.G.ups {
		x = u.forward(x, a)
	}
	a.next(upWidths[len(upWidths)-1])
	if a.at != int64(psiLen()) || psi.Size(1) != int64(psiLen()) {
		t.Errorf("G reads %d AdaIN parameters of ψ̂'s %d", a.at, psi.Size(1))
	}
	out := m.G.Forward(torch.FromFloat32(b.sketch, 2, 3, Size, Size), psi)
	v, err := out.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	if s := out.Shape(); len(s) != 4 || s[0] != 2 || s[1] != 3 || s[2] != Size || s[3] != Size {
		t.Errorf("G gives %v", s)
	}
	for _, f := range v {
		if !(f >= 0 && f <= 1) {
			t.Fatalf("G's output %v is outside [0, 1]", f)
		}
	}
	score, feats := m.D.Forward(torch.FromFloat32(b.target, 2, 3, Size, Size), torch.FromFloat32(b.sketch, 2, 3, Size, Size), m.D.column(b.videos))
	if s := score.Shape(); len(s) != 1 || s[0] != 2 || len(feats) != len(encoderWidths) {
		t.Errorf("D gives scores %v and %d feature maps", s, len(feats))
	}
	if err := score.Err(); err != nil {
		t.Fatal(err)
	}

	// Spectral norm: after 30 passes σ(W/σ̂) is 1 within 2 %, measured
	// against an exact SVD-free estimate (200 power iterations in Go).
	c := m.D.V.blocks[1].conv1
	for range 30 {
		c.forward(torch.Randn(1, 32, 8, 8))
	}
	w, _ := c.conv.Weight.Float32s()
	u, _ := c.u.Float32s()
	rows := len(u)
	cols := len(w) / rows
	sigma := powerSigma(w, rows, cols)
	var est float64 // uᵀWv with v = Wᵀu/‖Wᵀu‖
	vv := make([]float64, cols)
	var nv float64
	for j := 0; j < cols; j++ {
		for i := 0; i < rows; i++ {
			vv[j] += float64(w[i*cols+j]) * float64(u[i])
		}
		nv += vv[j] * vv[j]
	}
	for i := 0; i < rows; i++ {
		var s float64
		for j := 0; j < cols; j++ {
			s += float64(w[i*cols+j]) * vv[j]
		}
		est += float64(u[i]) * s
	}
	est /= math.Sqrt(nv)
	if math.Abs(est/sigma-1) > 0.02 {
		t.Errorf("spectral norm estimate %.4f, true %.4f", est, sigma)
	}
}

// powerSigma is the largest singular value of the rows×cols matrix w.
func powerSigma(w []float32, rows, cols int) float64 {
	v := make([]float64, cols)
	for j := range v {
		v[j] = 1 / math.Sqrt(float64(cols)) * float64(1+j%3)
	}
	var sigma float64
	for range 200 {
		u := make([]float64, rows)
		for i := range u {
			for j := range v {
				u[i] += float64(w[i*cols+j]) * v[j]
			}
		}
		var nu float64
		for _, x := range u {
			nu += x * x
		}
		nu = math.Sqrt(nu)
		sigma = 0
		for j := range v {
			v[j] = 0
			for i := range u {
				v[j] += float64(w[i*cols+j]) * u[i] / nu
			}
			sigma += v[j] * v[j]
		}
		sigma = math.Sqrt(sigma)
		for j := range v {
			v[j] /= sigma
		}
	}
	return sigma
}

// BenchmarkMetaStep is one meta-learning step with the default batch (2
// episodes of K = 4 frames) on real face crops.
func BenchmarkMetaStep(b *testing.B) {
	needTorch(b)
	c := DefaultConfig()
	m, err := newModel(2)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	optG, optD, err := m.optimizers(c)
	if err != nil {
		b.Fatal(err)
	}
	defer optG.Close()
	defer optD.Close()
	shots := franckShots(b)
	bt := newBatch(c.Batch, c.Shots)
	rng := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for e := 0; e < c.Batch; e++ {
			bt.fill(e, e, shots, pick(rng, len(shots), c.Shots+1))
		}
		if _, err := m.metaStep(optG, optD, bt, c); err != nil {
			b.Fatal(err)
		}
	}
}

// franckShots are Franck's still frames as shots.
func franckShots(t testing.TB) []Shot {
	an, err := analyze.Default()
	if err != nil {
		t.Fatal(err)
	}
	var out []Shot
	for _, n := range []string{"franck_f0000.png", "franck_f0500.png", "franck_f1000.png", "franck_f1500.png", "franck_f2000.png", "franck_f2500.png"} {
		img, err := media.LoadImage(testmedia.Path(t, n))
		if err != nil {
			t.Fatal(err)
		}
		f, ok := face.Largest(an.Faces(img))
		if !ok {
			t.Fatalf("no face in %s", n)
		}
		s, err := NewShot(img, f.Landmarks)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// TestCropTransform: a Shot cut straight from a frame is, within rounding,
// the box-filtered half of the 128 px crop the dataset keeps, and its
// landmarks are the 128 px crop's landmarks halved (with the ¼ px shift).
func TestCropTransform(t *testing.T) {
	img, err := media.LoadImage(testmedia.Path(t, "astronaut.png"))
	if err != nil {
		t.Fatal(err)
	}
	an, err := analyze.Default()
	if err != nil {
		t.Fatal(err)
	}
	f, ok := face.Largest(an.Faces(img))
	if !ok {
		t.Fatal("no face")
	}
	s, err := NewShot(img, f.Landmarks)
	if err != nil {
		t.Fatal(err)
	}
	big := align.Crop(img, align.ToCrop(f.Landmarks, cropSize), cropSize)
	direct := align.Crop(img, CropTransform(f.Landmarks), Size)
	// The direct 64 px crop samples where the box filter's pixels are
	// centred: the two agree to a few levels on average (the box filter
	// smooths, the point sample does not).
	var diff float64
	for i := range direct.Pix {
		if i%4 != 3 {
			diff += math.Abs(float64(direct.Pix[i]) - float64(s.Crop.Pix[i]))
		}
	}
	diff /= float64(3 * Size * Size)
	t.Logf("mean |direct 64 px crop − halved 128 px crop| = %.2f levels", diff)
	if diff > 6 {
		t.Errorf("the 64 px crop and the halved 128 px crop differ by %.2f levels on average", diff)
	}
	bigPts := align.ToCrop(f.Landmarks, cropSize).ApplyAll(f.Landmarks)
	for i, p := range s.Points {
		if math.Abs(p.X-(bigPts[i].X/2-0.25)) > 1e-9 || math.Abs(p.Y-(bigPts[i].Y/2-0.25)) > 1e-9 {
			t.Fatalf("landmark %d at %v, want half of %v less ¼", i, p, bigPts[i])
		}
	}
	if big.Rect.Dx() != 2*s.Crop.Rect.Dx() {
		t.Errorf("crop sizes %v and %v", big.Rect, s.Crop.Rect)
	}
}

// BenchmarkDraw is the renderer's work per video frame: G on one sketch.
func BenchmarkDraw(b *testing.B) {
	needTorch(b)
	m, err := newModel(2)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	m.params.SetTraining(false)
	r := &Renderer{m: m, psi: torch.Zeros(1, int64(psiLen())), sk: make([]float32, plane)}
	pts := astronautShot(b).Points
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := r.Draw(pts); err != nil {
			b.Fatal(err)
		}
	}
}
