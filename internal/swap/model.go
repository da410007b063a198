// Package swap is the DeepFakes face-swap autoencoder: one encoder shared by
// two identities and one decoder per identity, trained to reconstruct each
// identity's faces from randomly warped copies. Encoding a face of A and
// decoding it with B's decoder swaps it. The decoders also predict a mask,
// so a swapped face can be blended back without a hand-made one.
//
// The model is the original 2017 network (the "deepfakes" reddit release,
// later faceswap's "original" model) at 64×64; see Arch for the variants.
package swap

import (
	"encoding/json"
	"fmt"

	"github.com/facesynth/facesynth/internal/torch"
)

// Arch is the shape of the network. Every field is saved in a checkpoint, so
// a checkpoint describes its own network.
//
//	input  Size×Size×3
//	  → Encoder[i]: conv 5×5 stride 2 + LeakyReLU, Size/2^len(Encoder) = 4 px left
//	  → flatten → Dense(Dense) → Dense(4·4·Seed) → reshape 4×4×Seed
//	  → Upscale(EncoderUp)                                    8×8×EncoderUp
//	decoder (A or B):
//	  → Upscale(Decoder[i]) …                                 Size×Size
//	  → conv 5×5 to 3 (sigmoid) = RGB, conv 5×5 to 1 (sigmoid) = mask
//
// Upscale(f) is conv 3×3 to 4f channels + LeakyReLU + pixel shuffle ×2. The
// Dense layers have no activation between them, as in the original.
type Arch struct {
	Name      string  `json:"name"`
	Size      int     `json:"size"`       // input and output side in pixels
	Encoder   []int   `json:"encoder"`    // channels of the stride-2 convolutions
	Dense     int     `json:"dense"`      // width of the bottleneck
	Seed      int     `json:"seed"`       // channels of the 4×4 map the second Dense layer is reshaped to
	EncoderUp int     `json:"encoder_up"` // filters of the Upscale that ends the encoder
	Decoder   []int   `json:"decoder"`    // filters of each decoder's Upscale blocks
	Slope     float64 `json:"leaky_slope"`
}

// The architectures by name.
//
// original: the 2017 network, 64×64 input, ~76 M parameters in encoder plus
// one decoder (identical, RGB path included, to the "full" variant of
// /work/shared/bench/deepfakes_reference.py), ~82 M with the second decoder
// and the mask heads.
//
// light: every channel count and the bottleneck divided by 4 (the reference's
// "light" variant), 5.1 M parameters in all: for CPUs and tests.
//
// hd128: 128×128 input. We add one stride-2 stage in front of the encoder
// (64 channels, so the new full-resolution stage stays cheap) and one
// Upscale(32) at the end of each decoder, instead of keeping four stages and
// an 8×8 bottleneck map: the latter would quadruple the two Dense layers
// (8·8·1024·1024 weights each, ~100 M more parameters) while the extra
// stages cost 0.34 M (82.4 M in all against the original's 82.1 M). The
// bottleneck (4×4×1024 → 1024 → 4×4×1024) is exactly the original's.
var archs = map[string]Arch{
	"original": {Name: "original", Size: 64, Encoder: []int{128, 256, 512, 1024}, Dense: 1024, Seed: 1024,
		EncoderUp: 512, Decoder: []int{256, 128, 64}, Slope: 0.1},
	"light": {Name: "light", Size: 64, Encoder: []int{32, 64, 128, 256}, Dense: 256, Seed: 256,
		EncoderUp: 128, Decoder: []int{64, 32, 16}, Slope: 0.1},
	"hd128": {Name: "hd128", Size: 128, Encoder: []int{64, 128, 256, 512, 1024}, Dense: 1024, Seed: 1024,
		EncoderUp: 512, Decoder: []int{256, 128, 64, 32}, Slope: 0.1},
}

// ArchNames are the names ArchByName knows.
var ArchNames = []string{"original", "light", "hd128"}

// ArchByName returns a named architecture.
func ArchByName(name string) (Arch, error) {
	a, ok := archs[name]
	if !ok {
		return Arch{}, fmt.Errorf("swap: unknown architecture %q (want one of %v)", name, ArchNames)
	}
	return a.clone(), nil
}

func (a Arch) clone() Arch {
	a.Encoder = append([]int(nil), a.Encoder...)
	a.Decoder = append([]int(nil), a.Decoder...)
	return a
}

// bottom is the side of the map the encoder's convolutions leave.
const bottom = 4

// Validate reports whether the sizes fit together: the convolutions must
// halve Size down to 4×4 and the Upscale blocks double 8×8 back up to Size.
func (a Arch) Validate() error {
	if a.Size <= 0 || len(a.Encoder) == 0 || a.Size>>len(a.Encoder) != bottom || a.Size%(bottom<<len(a.Encoder)) != 0 {
		return fmt.Errorf("swap: arch %q: %d stride-2 convolutions do not take %d px down to %d px", a.Name,
			len(a.Encoder), a.Size, bottom)
	}
	if 2*bottom<<len(a.Decoder) != a.Size {
		return fmt.Errorf("swap: arch %q: %d Upscale blocks do not take %d px up to %d px", a.Name,
			len(a.Decoder), 2*bottom, a.Size)
	}
	for _, c := range append(append([]int{a.Dense, a.Seed, a.EncoderUp}, a.Encoder...), a.Decoder...) {
		if c <= 0 {
			return fmt.Errorf("swap: arch %q: channel count %d", a.Name, c)
		}
	}
	if !(a.Slope >= 0 && a.Slope < 1) {
		return fmt.Errorf("swap: arch %q: LeakyReLU slope %v outside [0, 1)", a.Name, a.Slope)
	}
	return nil
}

// Equal reports whether two architectures build the same network.
func (a Arch) Equal(b Arch) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// Side names an identity: its face set and its decoder.
type Side int

const (
	A Side = iota
	B
)

func (s Side) String() string {
	if s == B {
		return "B"
	}
	return "A"
}

func (s Side) other() Side { return 1 - s }

// conv is a 2-D convolution with bias.
type conv struct {
	w, b *torch.Tensor
	opts torch.ConvOpts
}

// newConv registers NAME.weight (out, in, k, k) and NAME.bias with PyTorch's
// default initialisation, so a seeded model starts like nn.Conv2d would.
func newConv(p *torch.Params, name string, in, out, k, stride int) conv {
	s := p.Sub(name)
	fan := int64(in * k * k)
	return conv{
		w:    s.Uniform("weight", torch.KaimingBound(fan), int64(out), int64(in), int64(k), int64(k)),
		b:    s.Uniform("bias", torch.BiasBound(fan), int64(out)),
		opts: torch.ConvOpts{Stride: stride, Padding: k / 2},
	}
}

func (c conv) forward(x *torch.Tensor) *torch.Tensor { return torch.Conv2d(x, c.w, c.b, c.opts) }

// dense is a fully connected layer, as nn.Linear.
type dense struct{ w, b *torch.Tensor }

func newDense(p *torch.Params, name string, in, out int) dense {
	s := p.Sub(name)
	return dense{
		w: s.Uniform("weight", torch.KaimingBound(int64(in)), int64(out), int64(in)),
		b: s.Uniform("bias", torch.BiasBound(int64(in)), int64(out)),
	}
}

func (d dense) forward(x *torch.Tensor) *torch.Tensor { return torch.Linear(x, d.w, d.b) }

// upscale doubles the resolution: conv 3×3 to 4f channels, LeakyReLU, then
// pixel shuffle turns (4f, h, w) into (f, 2h, 2w).
type upscale struct {
	conv  conv
	slope float64
}

func newUpscale(p *torch.Params, name string, in, f int, slope float64) upscale {
	return upscale{conv: newConv(p.Sub(name), "conv", in, 4*f, 3, 1), slope: slope}
}

func (u upscale) forward(x *torch.Tensor) *torch.Tensor {
	return torch.PixelShuffle(torch.LeakyReLU(u.conv.forward(x), u.slope), 2)
}

// encoder is the shared half: face → 8×8×EncoderUp code.
type encoder struct {
	convs          []conv
	dense1, dense2 dense
	up             upscale
	seed           int64
	slope          float64
}

func newEncoder(p *torch.Params, a Arch) encoder {
	e := encoder{seed: int64(a.Seed), slope: a.Slope}
	in := 3
	for i, c := range a.Encoder {
		e.convs = append(e.convs, newConv(p, fmt.Sprintf("conv%d", i+1), in, c, 5, 2))
		in = c
	}
	e.dense1 = newDense(p, "dense1", bottom*bottom*in, a.Dense)
	e.dense2 = newDense(p, "dense2", a.Dense, bottom*bottom*a.Seed)
	e.up = newUpscale(p, "up", a.Seed, a.EncoderUp, a.Slope)
	return e
}

// forward maps faces (N, 3, Size, Size) in [0, 1] to codes (N, EncoderUp, 8, 8).
func (e encoder) forward(x *torch.Tensor) *torch.Tensor {
	for _, c := range e.convs {
		x = torch.LeakyReLU(c.forward(x), e.slope)
	}
	x = e.dense2.forward(e.dense1.forward(torch.Flatten(x, 1, -1)))
	return e.up.forward(torch.View(x, -1, e.seed, bottom, bottom))
}

// decoder is one identity's half: code → face and mask.
type decoder struct {
	ups       []upscale
	out, mask conv
}

func newDecoder(p *torch.Params, a Arch) decoder {
	var d decoder
	in := a.EncoderUp
	for i, f := range a.Decoder {
		d.ups = append(d.ups, newUpscale(p, fmt.Sprintf("up%d", i+1), in, f, a.Slope))
		in = f
	}
	// Two heads rather than one 4-channel convolution, so that the RGB head
	// is parameter for parameter the original's output layer.
	d.out = newConv(p, "out", in, 3, 5, 1)
	d.mask = newConv(p, "mask", in, 1, 5, 1)
	return d
}

// forward maps codes to RGB in [0, 1] (N, 3, Size, Size) and mask logits
// (N, 1, Size, Size); the mask is their sigmoid. Logits rather than the
// mask itself let the mask loss use the numerically stable BCE with logits.
func (d decoder) forward(z *torch.Tensor) (rgb, maskLogits *torch.Tensor) {
	for _, u := range d.ups {
		z = u.forward(z)
	}
	return torch.Sigmoid(d.out.forward(z)), d.mask.forward(z)
}

// Model is the autoencoder: one encoder, decoders A and B. Its parameters
// are named as a PyTorch state_dict: "encoder.conv1.weight",
// "decoder_a.up1.conv.weight", "decoder_b.mask.bias".
type Model struct {
	Arch    Arch
	params  *torch.Params
	encoder encoder
	decoder [2]decoder
}

// New builds a model with freshly initialised weights (seed them with
// torch.ManualSeed for a repeatable start).
func New(a Arch) (*Model, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	if !torch.Available {
		return nil, fmt.Errorf("swap: %w", torch.ErrUnavailable)
	}
	p := torch.NewParams()
	m := &Model{Arch: a.clone(), params: p}
	m.encoder = newEncoder(p.Sub("encoder"), a)
	m.decoder[A] = newDecoder(p.Sub("decoder_a"), a)
	m.decoder[B] = newDecoder(p.Sub("decoder_b"), a)
	if err := p.Err(); err != nil {
		p.Close()
		return nil, fmt.Errorf("swap: build %s: %w", a.Name, err)
	}
	return m, nil
}

// Params is the model's parameter store (all of it; Sub("encoder") and
// Sub("decoder_a") are the halves).
func (m *Model) Params() *torch.Params { return m.params }

// SideParams are the parameters of the autoencoder that reconstructs side:
// the encoder and that side's decoder.
func (m *Model) SideParams(s Side) []torch.Param {
	return append(m.params.Sub("encoder").Trainable(), m.params.Sub(decoderName(s)).Trainable()...)
}

func decoderName(s Side) string {
	if s == B {
		return "decoder_b"
	}
	return "decoder_a"
}

// Encode maps faces (N, 3, Size, Size), RGB in [0, 1], to codes.
func (m *Model) Encode(x *torch.Tensor) *torch.Tensor { return m.encoder.forward(x) }

// Decode maps codes to side's faces: RGB (N, 3, Size, Size) in [0, 1] and
// mask logits (N, 1, Size, Size).
func (m *Model) Decode(z *torch.Tensor, s Side) (rgb, maskLogits *torch.Tensor) {
	return m.decoder[s].forward(z)
}

// Forward encodes x and decodes it as side s: with s the faces' own side it
// reconstructs them, with the other side it swaps them.
func (m *Model) Forward(x *torch.Tensor, s Side) (rgb, mask *torch.Tensor) {
	rgb, logits := m.Decode(m.Encode(x), s)
	return rgb, torch.Sigmoid(logits)
}

// Close frees the weights.
func (m *Model) Close() {
	if m != nil && m.params != nil {
		m.params.Close()
	}
}
