package swap

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/facesynth/facesynth/internal/torch"
)

func needTorch(t testing.TB) {
	t.Helper()
	if !torch.Available {
		t.Skip("built without cgo: no libtorch")
	}
}

func mustArch(t testing.TB, name string) Arch {
	t.Helper()
	a, err := ArchByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func mustModel(t testing.TB, name string) *Model {
	t.Helper()
	needTorch(t)
	m, err := New(mustArch(t, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

func count(ps []torch.Param) int64 {
	var n int64
	for _, p := range ps {
		n += p.Tensor.Numel()
	}
	return n
}

// The parameter counts of /work/shared/bench/deepfakes_reference.py's
// models, printed by PyTorch 1.13 from the script's own classes
// (sum(p.numel()) of model[0] and model[1]).
var referenceCounts = map[string]struct{ encoder, decoder int64 }{
	"original": {69662976, 6199747}, // the script's "full"
	"light":    {4359744, 388723},
}

func TestArchMatchesReferenceParameterCounts(t *testing.T) {
	for name, want := range referenceCounts {
		m := mustModel(t, name)
		enc := count(m.params.Sub("encoder").Trainable())
		// The reference decoder has no mask head: conv 5×5 from the last
		// Upscale's channels to 1, with bias.
		last := int64(m.Arch.Decoder[len(m.Arch.Decoder)-1])
		maskHead := last*25 + 1
		for _, side := range []string{"decoder_a", "decoder_b"} {
			if got := count(m.params.Sub(side).Trainable()) - maskHead; got != want.decoder {
				t.Errorf("%s %s: %d parameters without the mask head, reference decoder has %d", name, side, got, want.decoder)
			}
		}
		if enc != want.encoder {
			t.Errorf("%s encoder: %d parameters, reference %d", name, enc, want.encoder)
		}
	}
}

func TestParameterNamesAndShapes(t *testing.T) {
	m := mustModel(t, "light")
	shapes := map[string][]int64{}
	for _, p := range m.params.All() {
		shapes[p.Name] = p.Tensor.Shape()
	}
	want := map[string][]int64{
		"encoder.conv1.weight":      {32, 3, 5, 5},
		"encoder.conv4.bias":        {256},
		"encoder.dense1.weight":     {256, 4 * 4 * 256},
		"encoder.dense2.weight":     {4 * 4 * 256, 256},
		"encoder.up.conv.weight":    {4 * 128, 256, 3, 3},
		"decoder_a.up1.conv.weight": {4 * 64, 128, 3, 3},
		"decoder_a.up3.conv.bias":   {4 * 16},
		"decoder_a.out.weight":      {3, 16, 5, 5},
		"decoder_b.mask.weight":     {1, 16, 5, 5},
		"decoder_b.mask.bias":       {1},
	}
	for n, s := range want {
		if !slices.Equal(shapes[n], s) {
			t.Errorf("%s: shape %v, want %v", n, shapes[n], s)
		}
	}
	// 4 convs + 2 dense + 1 upscale in the encoder, 3 upscales + 2 heads per
	// decoder, weight and bias each.
	if got, want := len(shapes), 2*(4+2+1)+2*2*(3+2); got != want {
		t.Errorf("%d parameter tensors, want %d", got, want)
	}
	for n := range shapes {
		if !strings.HasPrefix(n, "encoder.") && !strings.HasPrefix(n, "decoder_a.") && !strings.HasPrefix(n, "decoder_b.") {
			t.Errorf("unexpected parameter %s", n)
		}
	}
}

func TestForwardShapesAndRanges(t *testing.T) {
	for _, name := range []string{"light", "hd128"} {
		m := mustModel(t, name)
		s := int64(m.Arch.Size)
		torch.WithScope(func(*torch.Scope) {
			torch.NoGrad(func() {
				x := torch.Rand(2, 3, s, s)
				z := m.Encode(x)
				if got, want := z.Shape(), []int64{2, int64(m.Arch.EncoderUp), 8, 8}; !slices.Equal(got, want) {
					t.Errorf("%s: code shape %v, want %v (%v)", name, got, want, z.Err())
				}
				for _, side := range []Side{A, B} {
					rgb, mask := m.Forward(x, side)
					if !slices.Equal(rgb.Shape(), []int64{2, 3, s, s}) || !slices.Equal(mask.Shape(), []int64{2, 1, s, s}) {
						t.Fatalf("%s %v: shapes %v %v (%v %v)", name, side, rgb.Shape(), mask.Shape(), rgb.Err(), mask.Err())
					}
					for _, out := range []*torch.Tensor{rgb, mask} {
						v, err := out.Float32s()
						if err != nil {
							t.Fatal(err)
						}
						lo, hi := slices.Min(v), slices.Max(v)
						if !(lo > 0 && hi < 1) {
							t.Errorf("%s %v: sigmoid output outside (0, 1): [%v, %v]", name, side, lo, hi)
						}
					}
				}
			})
		})
	}
}

func TestDecodersDiffer(t *testing.T) {
	m := mustModel(t, "light")
	torch.WithScope(func(*torch.Scope) {
		torch.NoGrad(func() {
			x := torch.Rand(1, 3, 64, 64)
			a, _ := m.Forward(x, A)
			b, _ := m.Forward(x, B)
			d, err := torch.Max(torch.Abs(torch.Sub(a, b))).Item()
			if err != nil || !(d > 1e-4) {
				t.Errorf("decoders A and B give the same output (max diff %v, %v): they must be separate weights", d, err)
			}
		})
	})
}

func TestArchValidate(t *testing.T) {
	for _, name := range ArchNames {
		if err := mustArch(t, name).Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad := mustArch(t, "original")
	bad.Size = 128 // four stages leave 8 px, not 4
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "stride-2") {
		t.Errorf("size 128 with 4 stages: %v", err)
	}
	bad = mustArch(t, "original")
	bad.Decoder = bad.Decoder[:2]
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "Upscale") {
		t.Errorf("two decoder stages: %v", err)
	}
	bad = mustArch(t, "light")
	bad.Slope = math.NaN()
	if bad.Validate() == nil {
		t.Error("NaN slope accepted")
	}
	if _, err := ArchByName("gan"); err == nil || !strings.Contains(err.Error(), `"gan"`) {
		t.Errorf("unknown arch: %v", err)
	}
	a, b := mustArch(t, "light"), mustArch(t, "light")
	b.Encoder[0]++
	if a.Equal(b) || !a.Equal(mustArch(t, "light")) {
		t.Error("Equal does not compare the channel lists")
	}
}
