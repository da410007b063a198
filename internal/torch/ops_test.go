//go:build cgo

package torch

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func vals(t *testing.T, x *Tensor) []float32 {
	t.Helper()
	v, err := x.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func near(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values %v, want %d %v", what, len(got), got, len(want), want)
	}
	for i := range got {
		if math.Abs(float64(got[i])-want[i]) > tol || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s: [%d] = %v, want %v (all: %v)", what, i, got[i], want[i], got)
		}
	}
}

func shapeIs(t *testing.T, what string, x *Tensor, want ...int64) {
	t.Helper()
	if err := x.Err(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if got := x.Shape(); !sameShape(got, want) {
		t.Fatalf("%s: shape %v, want %v", what, got, want)
	}
}

func TestElementwise(t *testing.T) {
	s := NewScope()
	defer s.Close()
	a := FromFloat32([]float32{1, -2, 3, -4}, 2, 2)
	b := FromFloat32([]float32{0.5, 2, -1, 4}, 2, 2)
	near(t, "add", vals(t, Add(a, b)), []float64{1.5, 0, 2, 0}, 0)
	near(t, "sub", vals(t, Sub(a, b)), []float64{0.5, -4, 4, -8}, 0)
	near(t, "mul", vals(t, Mul(a, b)), []float64{0.5, -4, -3, -16}, 0)
	near(t, "div", vals(t, Div(a, b)), []float64{2, -1, -3, -1}, 0)
	// [[1 -2] [3 -4]] · [[0.5 2] [-1 4]] = [[2.5 -6] [5.5 -10]]
	near(t, "matmul", vals(t, MatMul(a, b)), []float64{2.5, -6, 5.5, -10}, 0)
	near(t, "mul scalar", vals(t, MulScalar(a, -0.5)), []float64{-0.5, 1, -1.5, 2}, 0)
	near(t, "add scalar", vals(t, AddScalar(a, 1)), []float64{2, -1, 4, -3}, 0)
	near(t, "sub from", vals(t, SubFrom(1, a)), []float64{0, 3, -2, 5}, 0)
	near(t, "pow", vals(t, Pow(a, 2)), []float64{1, 4, 9, 16}, 0)
	near(t, "abs", vals(t, Abs(a)), []float64{1, 2, 3, 4}, 0)
	near(t, "neg", vals(t, Neg(a)), []float64{-1, 2, -3, 4}, 0)
	near(t, "clamp", vals(t, Clamp(a, -2.5, 2)), []float64{1, -2, 2, -2.5}, 0)
	near(t, "sqrt", vals(t, Sqrt(Abs(a))), []float64{1, math.Sqrt2, math.Sqrt(3), 2}, 1e-6)
	near(t, "exp", vals(t, Exp(b)), []float64{math.Exp(0.5), math.Exp(2), math.Exp(-1), math.Exp(4)}, 1e-5)
	near(t, "log", vals(t, Log(Abs(a))), []float64{0, math.Log(2), math.Log(3), math.Log(4)}, 1e-6)
	near(t, "relu", vals(t, ReLU(a)), []float64{1, 0, 3, 0}, 0)
	near(t, "leaky relu", vals(t, LeakyReLU(a, 0.1)), []float64{1, -0.2, 3, -0.4}, 1e-7)
	near(t, "sigmoid", vals(t, Sigmoid(a)), []float64{1 / (1 + math.Exp(-1)), 1 / (1 + math.Exp(2)),
		1 / (1 + math.Exp(-3)), 1 / (1 + math.Exp(4))}, 1e-7)
	near(t, "tanh", vals(t, Tanh(a)), []float64{math.Tanh(1), math.Tanh(-2), math.Tanh(3), math.Tanh(-4)}, 1e-7)
	near(t, "softplus", vals(t, Softplus(a)), []float64{math.Log1p(math.E), math.Log1p(math.Exp(-2)),
		math.Log1p(math.Exp(3)), math.Log1p(math.Exp(-4))}, 1e-6)
	// Broadcasting: (2,2) + (2) adds per column.
	near(t, "broadcast", vals(t, Add(a, FromFloat32([]float32{10, 20}))), []float64{11, 18, 13, 16}, 0)
	e := math.Exp(1.0)
	near(t, "softmax", vals(t, Softmax(FromFloat32([]float32{0, 1}), 0)), []float64{1 / (1 + e), e / (1 + e)}, 1e-7)
	near(t, "dropout off", vals(t, Dropout(a, 0.5, false)), []float64{1, -2, 3, -4}, 0)
}

func TestReductions(t *testing.T) {
	s := NewScope()
	defer s.Close()
	x := FromFloat32([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	near(t, "sum", vals(t, Sum(x)), []float64{21}, 0)
	near(t, "mean", vals(t, Mean(x)), []float64{3.5}, 0)
	near(t, "max", vals(t, Max(x)), []float64{6}, 0)
	near(t, "sum dim 0", vals(t, SumDims(x, DropDim, 0)), []float64{5, 7, 9}, 0)
	m := MeanDims(x, KeepDim, 1)
	shapeIs(t, "mean keepdim", m, 2, 1)
	near(t, "mean dim 1", vals(t, m), []float64{2, 5}, 0)
	// Unbiased std of {1,2,3} is 1; variance 1.
	near(t, "std", vals(t, StdDims(x, DropDim, 1)), []float64{1, 1}, 1e-7)
	near(t, "var", vals(t, VarDims(x, DropDim, 0)), []float64{4.5, 4.5, 4.5}, 1e-6)
	near(t, "max dims", vals(t, MaxDims(x, DropDim, -1)), []float64{3, 6}, 0)
	if err := SumDims(x, DropDim).Err(); err == nil || !strings.Contains(err.Error(), "no dimensions") {
		t.Fatalf("SumDims without dims: %v", err)
	}
	if v, err := Sum(x).Item(); err != nil || v != 21 {
		t.Fatalf("Item = %v, %v", v, err)
	}
}

func TestShapes(t *testing.T) {
	s := NewScope()
	defer s.Close()
	x := FromFloat32([]float32{0, 1, 2, 3, 4, 5}, 2, 3)
	near(t, "transpose", vals(t, Transpose(x, 0, 1)), []float64{0, 3, 1, 4, 2, 5}, 0)
	near(t, "permute", vals(t, Permute(x, 1, 0)), []float64{0, 3, 1, 4, 2, 5}, 0)
	shapeIs(t, "reshape", Reshape(x, 3, -1), 3, 2)
	shapeIs(t, "view", View(x, 6), 6)
	shapeIs(t, "unsqueeze", Unsqueeze(x, 0), 1, 2, 3)
	shapeIs(t, "squeeze", Squeeze(Unsqueeze(x, 2), 2), 2, 3)
	shapeIs(t, "flatten", Flatten(Unsqueeze(x, 0), 1, -1), 1, 6)
	shapeIs(t, "expand", Expand(Unsqueeze(x, 0), 4, -1, -1), 4, 2, 3)
	near(t, "repeat", vals(t, Repeat(FromFloat32([]float32{1, 2}), 2)), []float64{1, 2, 1, 2}, 0)
	near(t, "slice", vals(t, Slice(x, 1, 0, 3, 2)), []float64{0, 2, 3, 5}, 0)
	near(t, "narrow", vals(t, Narrow(x, 1, 1, 2)), []float64{1, 2, 4, 5}, 0)
	near(t, "select", vals(t, Select(x, 0, 1)), []float64{3, 4, 5}, 0)
	near(t, "index", vals(t, Index(x, 1, FromInt64([]int64{2, 0}))), []float64{2, 0, 5, 3}, 0)
	c := Cat([]*Tensor{x, x}, 0)
	shapeIs(t, "cat", c, 4, 3)
	shapeIs(t, "stack", Stack([]*Tensor{x, x}, 0), 2, 2, 3)
	if err := View(Transpose(x, 0, 1), 6).Err(); err == nil {
		t.Fatal("View of a non-contiguous tensor succeeded")
	}
	near(t, "contiguous view", vals(t, View(Contiguous(Transpose(x, 0, 1)), 6)), []float64{0, 3, 1, 4, 2, 5}, 0)

	// Pixel shuffle: (1, 4, 1, 1) channels c0..c3 become the 2×2 block
	// [[c0 c1] [c2 c3]].
	ps := PixelShuffle(FromFloat32([]float32{10, 11, 12, 13}, 1, 4, 1, 1), 2)
	shapeIs(t, "pixel shuffle", ps, 1, 1, 2, 2)
	near(t, "pixel shuffle", vals(t, ps), []float64{10, 11, 12, 13}, 0)
	near(t, "pixel unshuffle", vals(t, PixelUnshuffle(ps, 2)), []float64{10, 11, 12, 13}, 0)
	ar, err := Arange(4).Int64s()
	if err != nil || len(ar) != 4 || ar[3] != 3 {
		t.Fatalf("Arange = %v, %v", ar, err)
	}
}

func TestConvolutions(t *testing.T) {
	s := NewScope()
	defer s.Close()
	// 3×3 image 1..9 with a 2×2 kernel of ones and bias 0.5: window sums.
	img := FromFloat32([]float32{1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, 1, 3, 3)
	k := Ones(1, 1, 2, 2)
	near(t, "conv2d", vals(t, Conv2d(img, k, FromFloat32([]float32{0.5}), ConvOpts{})),
		[]float64{12.5, 16.5, 24.5, 28.5}, 0)
	// Padding 1, stride 2 on 3×3 with a 2×2 kernel: corners of the padded image.
	near(t, "conv2d stride pad", vals(t, Conv2d(img, k, nil, ConvOpts{Stride: 2, Padding: 1})),
		[]float64{1, 5, 11, 28}, 0)
	// Transposed conv of a single 1 with a 2×2 kernel 1..4, stride 2, is the kernel.
	one := Ones(1, 1, 1, 1)
	kt := FromFloat32([]float32{1, 2, 3, 4}, 1, 1, 2, 2)
	near(t, "conv transpose", vals(t, ConvTranspose2d(one, kt, nil, ConvOpts{Stride: 2})), []float64{1, 2, 3, 4}, 0)
	// conv1d: [1 2 3 4] * [1 -1] = [-1 -1 -1].
	near(t, "conv1d", vals(t, Conv1d(FromFloat32([]float32{1, 2, 3, 4}, 1, 1, 4), FromFloat32([]float32{1, -1}, 1, 1, 2),
		nil, ConvOpts{})), []float64{-1, -1, -1}, 0)

	// Output shapes of the layer types the models use.
	x := Zeros(2, 3, 64, 64)
	shapeIs(t, "5x5/2", Conv2d(x, Zeros(8, 3, 5, 5), nil, ConvOpts{Stride: 2, Padding: 2}), 2, 8, 32, 32)
	shapeIs(t, "3x3 dilated", Conv2d(x, Zeros(8, 3, 3, 3), nil, ConvOpts{Padding: 2, Dilation: 2}), 2, 8, 64, 64)
	shapeIs(t, "grouped", Conv2d(Zeros(1, 4, 8, 8), Zeros(4, 2, 3, 3), nil, ConvOpts{Padding: 1, Groups: 2}), 1, 4, 8, 8)
	shapeIs(t, "transpose 4/2", ConvTranspose2d(Zeros(1, 8, 16, 16), Zeros(8, 4, 4, 4), nil,
		ConvOpts{Stride: 2, Padding: 1}), 1, 4, 32, 32)
	shapeIs(t, "transpose out pad", ConvTranspose2d(Zeros(1, 8, 16, 16), Zeros(8, 4, 3, 3), nil,
		ConvOpts{Stride: 2, Padding: 1, OutputPadding: 1}), 1, 4, 32, 32)
	shapeIs(t, "conv1d", Conv1d(Zeros(2, 80, 100), Zeros(16, 80, 3), nil, ConvOpts{Padding: 1}), 2, 16, 100)
	shapeIs(t, "linear", Linear(Zeros(5, 7), Zeros(3, 7), Zeros(3)), 5, 3)
	near(t, "linear", vals(t, Linear(FromFloat32([]float32{1, 2}, 1, 2), FromFloat32([]float32{1, 1, 2, -1}, 2, 2),
		FromFloat32([]float32{0, 10}))), []float64{3, 10}, 0)

	err := Conv2d(x, Zeros(8, 4, 3, 3), nil, ConvOpts{}).Err()
	if err == nil || !strings.HasPrefix(err.Error(), "torch: conv2d: ") {
		t.Fatalf("channel mismatch error = %v", err)
	}
}

func TestPoolingAndResampling(t *testing.T) {
	s := NewScope()
	defer s.Close()
	x := FromFloat32([]float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, 1, 1, 4, 4)
	near(t, "max pool", vals(t, MaxPool2d(x, 2, 0, 0)), []float64{6, 8, 14, 16}, 0)
	near(t, "avg pool", vals(t, AvgPool2d(x, 2, 2, 0)), []float64{3.5, 5.5, 11.5, 13.5}, 0)
	near(t, "adaptive", vals(t, AdaptiveAvgPool2d(x, 1, 1)), []float64{8.5}, 0)
	small := FromFloat32([]float32{1, 2, 3, 4}, 1, 1, 2, 2)
	near(t, "nearest", vals(t, Upsample(small, 2, Nearest)),
		[]float64{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}, 0)
	// Bilinear, align_corners=False, 2×2→4×4: the first row is
	// 1, 1.25, 1.75, 2 (edges clamp, inner samples at ¼ and ¾).
	bl := vals(t, Upsample(small, 2, Bilinear))
	near(t, "bilinear row 0", bl[:4], []float64{1, 1.25, 1.75, 2}, 1e-6)
	near(t, "bilinear row 1", bl[4:8], []float64{1.5, 1.75, 2.25, 2.5}, 1e-6)
	// align_corners=True 2×2→3×3: the centre is the mean of all four.
	ac := vals(t, Resize(small, 3, 3, BilinearAlignCorners))
	near(t, "align corners", ac, []float64{1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4}, 1e-6)

	// grid_sample with the identity grid (align_corners) returns the input.
	grid := FromFloat32([]float32{-1, -1, 1, -1, -1, 1, 1, 1}, 1, 2, 2, 2)
	near(t, "grid sample", vals(t, GridSample(small, grid, BilinearAlignCorners, PadZeros)), []float64{1, 2, 3, 4}, 1e-6)
	near(t, "grid sample nearest", vals(t, GridSample(small, FromFloat32([]float32{0.9, 0.9}, 1, 1, 1, 2), Nearest,
		PadBorder)), []float64{4}, 0)
}

func TestNorms(t *testing.T) {
	s := NewScope()
	defer s.Close()
	// Two samples, two channels of two pixels.
	x := FromFloat32([]float32{1, 3, 10, 20, 5, 7, 30, 40}, 2, 2, 2, 1)
	mean, vr := Zeros(2), Ones(2)
	y := BatchNorm(x, nil, nil, mean, vr, true, 0.1, 0)
	// Channel 0 values {1,3,5,7}: mean 4, biased var 5.
	near(t, "batch norm", vals(t, Select(y, 1, 0)), []float64{-3 / math.Sqrt(5), -1 / math.Sqrt(5),
		1 / math.Sqrt(5), 3 / math.Sqrt(5)}, 1e-6)
	// Running stats: 0.9·old + 0.1·batch, with the unbiased variance (20/3).
	near(t, "running mean", vals(t, mean), []float64{0.4, 2.5}, 1e-6)
	near(t, "running var", vals(t, vr), []float64{0.9 + 0.1*20.0/3, 0.9 + 0.1*(500.0/3)}, 1e-4)
	ev := BatchNorm(x, FromFloat32([]float32{2, 2}), FromFloat32([]float32{1, 1}), mean, vr, false, 0.1, 0)
	near(t, "batch norm eval", vals(t, ev)[:1], []float64{2*(1-0.4)/math.Sqrt(0.9+0.1*20.0/3) + 1}, 1e-5)

	in := vals(t, InstanceNorm(x, nil, nil, 0))
	near(t, "instance norm", in, []float64{-1, 1, -1, 1, -1, 1, -1, 1}, 1e-5)
	gn := vals(t, GroupNorm(FromFloat32([]float32{1, 2, 3, 4}, 1, 2, 2, 1), 1, nil, nil, 0))
	d := math.Sqrt(1.25)
	near(t, "group norm", gn, []float64{-1.5 / d, -0.5 / d, 0.5 / d, 1.5 / d}, 1e-5)
	ln := vals(t, LayerNorm(FromFloat32([]float32{1, 3}, 1, 2), []int64{2}, nil, nil, 0))
	near(t, "layer norm", ln, []float64{-1, 1}, 1e-5)

	// AdaIN's pieces: per-channel mean and (unbiased) std over H, W.
	mu := MeanDims(x, KeepDim, 2, 3)
	shapeIs(t, "adain mean", mu, 2, 2, 1, 1)
	near(t, "adain mean", vals(t, mu), []float64{2, 15, 6, 35}, 0)
	near(t, "adain std", vals(t, StdDims(x, KeepDim, 2, 3)), []float64{math.Sqrt2, math.Sqrt(50), math.Sqrt2, math.Sqrt(50)}, 1e-5)
}

func TestLosses(t *testing.T) {
	s := NewScope()
	defer s.Close()
	x := FromFloat32([]float32{0, 1, 2, 3})
	y := FromFloat32([]float32{1, 1, 0, 5})
	near(t, "l1", vals(t, L1Loss(x, y)), []float64{(1 + 0 + 2 + 2) / 4.0}, 0)
	near(t, "mse", vals(t, MSELoss(x, y)), []float64{(1 + 0 + 4 + 4) / 4.0}, 0)
	logits := FromFloat32([]float32{0, 2})
	tg := FromFloat32([]float32{1, 0})
	want := (math.Log(2) + (2 + math.Log1p(math.Exp(-2)))) / 2
	near(t, "bce with logits", vals(t, BCEWithLogits(logits, tg)), []float64{want}, 1e-6)
	// Hinge: mean(relu(1 − d)) for d = {-1, 0.5, 2} is (2 + 0.5 + 0)/3.
	near(t, "hinge", vals(t, Mean(ReLU(SubFrom(1, FromFloat32([]float32{-1, 0.5, 2}))))), []float64{2.5 / 3}, 1e-7)
}

func sigmoid(v float64) float64 { return 1 / (1 + math.Exp(-v)) }

func TestGRUMatchesEquations(t *testing.T) {
	s := NewScope()
	defer s.Close()
	// One layer, input 1, hidden 1: weights rows are (r, z, n).
	wih := []float64{0.5, -0.3, 0.8}
	whh := []float64{0.2, 0.4, -0.6}
	bih := []float64{0.1, 0.0, -0.1}
	bhh := []float64{-0.2, 0.3, 0.05}
	f32 := func(v []float64, shape ...int64) *Tensor {
		o := make([]float32, len(v))
		for i := range v {
			o[i] = float32(v[i])
		}
		return FromFloat32(o, shape...)
	}
	xs := []float64{1, -2}
	out, hn := GRU(f32(xs, 2, 1, 1), f32([]float64{0.3}, 1, 1, 1),
		[]*Tensor{f32(wih, 3, 1), f32(whh, 3, 1), f32(bih, 3), f32(bhh, 3)}, true, 1, 0, false, false)
	h, want := 0.3, []float64{}
	for _, x := range xs {
		r := sigmoid(wih[0]*x + bih[0] + whh[0]*h + bhh[0])
		z := sigmoid(wih[1]*x + bih[1] + whh[1]*h + bhh[1])
		n := math.Tanh(wih[2]*x + bih[2] + r*(whh[2]*h+bhh[2]))
		h = (1-z)*n + z*h
		want = append(want, h)
	}
	near(t, "gru output", vals(t, out), want, 1e-6)
	near(t, "gru state", vals(t, hn), want[1:], 1e-6)
	o2, _ := GRU(f32(xs, 2, 1, 1), f32([]float64{0.3}, 1, 1, 1), nil, true, 1, 0, false, false)
	if o2.Err() == nil {
		t.Fatal("GRU without parameters succeeded")
	}
}

func TestGradient(t *testing.T) {
	s := NewScope()
	defer s.Close()
	x := FromFloat32([]float32{1, -2, 3})
	if err := x.SetRequiresGrad(true); err != nil {
		t.Fatal(err)
	}
	// f = Σ 3x² + leaky(x, 0.1): df/dx = 6x + (1 or 0.1).
	f := Add(Sum(MulScalar(Square(x), 3)), Sum(LeakyReLU(x, 0.1)))
	if err := f.Backward(); err != nil {
		t.Fatal(err)
	}
	near(t, "grad", vals(t, x.Grad()), []float64{7, -11.9, 19}, 1e-6)
	// Gradients accumulate until cleared.
	if err := Sum(x).Backward(); err != nil {
		t.Fatal(err)
	}
	near(t, "accumulated", vals(t, x.Grad()), []float64{8, -10.9, 20}, 1e-6)
	if err := x.ClearGrad(); err != nil {
		t.Fatal(err)
	}
	if err := x.Grad().Err(); !errors.Is(err, ErrNoGrad) {
		t.Fatalf("Grad after ClearGrad: %v", err)
	}
	// Gradient through a convolution: d(Σ conv(x, w))/dw = Σ of x's windows.
	img := FromFloat32([]float32{1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, 1, 3, 3)
	w := Ones(1, 1, 2, 2)
	if err := w.SetRequiresGrad(true); err != nil {
		t.Fatal(err)
	}
	if err := Sum(Conv2d(img, w, nil, ConvOpts{})).Backward(); err != nil {
		t.Fatal(err)
	}
	near(t, "conv weight grad", vals(t, w.Grad()), []float64{1 + 2 + 4 + 5, 2 + 3 + 5 + 6, 4 + 5 + 7 + 8, 5 + 6 + 8 + 9}, 0)
	if err := Detach(MulScalar(w, 2)).Backward(); err == nil {
		t.Fatal("Backward through a detached tensor succeeded")
	}
}

func TestNoGrad(t *testing.T) {
	s := NewScope()
	defer s.Close()
	w := Ones(3)
	if err := w.SetRequiresGrad(true); err != nil {
		t.Fatal(err)
	}
	if !MulScalar(w, 2).RequiresGrad() {
		t.Fatal("op on a parameter does not require grad")
	}
	var y *Tensor
	NoGrad(func() {
		if GradEnabled() {
			t.Error("GradEnabled inside NoGrad")
		}
		y = MulScalar(w, 2)
	})
	if y.RequiresGrad() {
		t.Fatal("op inside NoGrad requires grad")
	}
	if !GradEnabled() {
		t.Fatal("grad mode not restored after NoGrad")
	}
}

func TestSeedDeterminism(t *testing.T) {
	s := NewScope()
	defer s.Close()
	ManualSeed(42)
	a := vals(t, Rand(100))
	b := vals(t, Randn(3, 4))
	d := vals(t, Dropout(Ones(64), 0.5, true))
	ManualSeed(42)
	a2, b2, d2 := vals(t, Rand(100)), vals(t, Randn(3, 4)), vals(t, Dropout(Ones(64), 0.5, true))
	for i := range a {
		if a[i] != a2[i] {
			t.Fatalf("Rand differs after reseeding at %d", i)
		}
	}
	for i := range b {
		if b[i] != b2[i] {
			t.Fatalf("Randn differs after reseeding at %d", i)
		}
	}
	zeros := 0
	for i := range d {
		if d[i] != d2[i] {
			t.Fatalf("Dropout differs after reseeding at %d", i)
		}
		if d[i] == 0 {
			zeros++
		} else if d[i] != 2 {
			t.Fatalf("kept dropout value %v, want 2", d[i])
		}
	}
	if zeros < 16 || zeros > 48 {
		t.Fatalf("dropout p=0.5 zeroed %d of 64", zeros)
	}
	ManualSeed(43)
	if c := vals(t, Rand(100)); c[0] == a[0] && c[1] == a[1] {
		t.Fatal("another seed gives the same numbers")
	}
	for _, v := range a {
		if v < 0 || v >= 1 {
			t.Fatalf("Rand value %v outside [0, 1)", v)
		}
	}
}

func TestStickyErrors(t *testing.T) {
	s := NewScope()
	defer s.Close()
	bad := FromFloat32([]float32{1, 2, 3}, 2, 2)
	if err := bad.Err(); err == nil || !strings.Contains(err.Error(), "3 values do not fill shape [2 2]") {
		t.Fatalf("FromFloat32 shape error = %v", err)
	}
	// The first failing op's error reaches Backward unchanged.
	x := Zeros(1, 3, 8, 8)
	y := ReLU(Conv2d(x, Zeros(4, 5, 3, 3), nil, ConvOpts{}))
	err := Mean(y).Backward()
	if err == nil || !strings.HasPrefix(err.Error(), "torch: conv2d: ") {
		t.Fatalf("Backward error = %v", err)
	}
	if _, err := Sum(y).Item(); err == nil {
		t.Fatal("Item of an error tensor succeeded")
	}
	if err := Add(nil, x).Err(); err == nil || err.Error() != "torch: add: nil tensor" {
		t.Fatalf("nil input error = %v", err)
	}
	z := Zeros(2)
	z.Close()
	z.Close() // idempotent
	if err := Neg(z).Err(); err == nil || !strings.Contains(err.Error(), "after Close") {
		t.Fatalf("closed input error = %v", err)
	}
	if err := Zeros(-1).Err(); err == nil {
		t.Fatal("negative shape accepted")
	}
	if err := Clamp(x, 1, 0).Err(); err == nil {
		t.Fatal("clamp with lo > hi accepted")
	}
	if _, err := Sum(x).Item(); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Item(); err == nil {
		t.Fatal("Item of a 192-element tensor succeeded")
	}
	if y.String() == "" || !strings.HasPrefix(x.String(), "Tensor[1x3x8x8 float32 cpu]") {
		t.Fatalf("String = %q", x.String())
	}
	if CUDAAvailable() {
		t.Log("CUDA available")
	} else if err := x.To(CUDA(0)).Err(); err == nil {
		t.Fatal("To(CUDA) succeeded without CUDA")
	}
}

func TestScopeFreesAndKeeps(t *testing.T) {
	outer := NewScope()
	var kept, inner *Tensor
	WithScope(func(s *Scope) {
		inner = Ones(2)
		kept = s.Keep(Add(inner, inner))
		if s.Len() != 1 {
			t.Errorf("scope holds %d tensors, want 1", s.Len())
		}
	})
	if inner.Err() == nil {
		t.Fatal("tensor of a closed scope is still usable")
	}
	near(t, "kept", vals(t, kept), []float64{2, 2}, 0)
	if outer.Len() != 1 {
		t.Fatalf("outer scope holds %d tensors, want the kept one", outer.Len())
	}
	r := Scoped(func() *Tensor { return MulScalar(kept, 3) })
	near(t, "scoped", vals(t, r), []float64{6, 6}, 0)
	outer.Close()
	if kept.Err() == nil || r.Err() == nil {
		t.Fatal("outer Close did not free kept tensors")
	}
	// Closing an outer scope first also closes the inner one.
	a := NewScope()
	b := NewScope()
	x := Ones(1)
	a.Close()
	if x.Err() == nil {
		t.Fatal("inner scope's tensor survived outer Close")
	}
	b.Close()
	if y := Ones(1); y.Err() != nil {
		t.Fatal(y.Err())
	} else {
		y.Close()
	}
}
