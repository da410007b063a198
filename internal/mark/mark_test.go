package mark

import (
	"bytes"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/testmedia"
)

// The channel code: 64 message bits through the convolutional code and
// Viterbi survive noise that flips many coded bits, and the CRC rejects
// what the decoder gets wrong.
func TestPayloadCode(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	const trials = 200
	rawErrors, decoded := 0, 0
	for range trials {
		p := Payload{Version: uint8(rng.IntN(256)), ContentID: rng.Uint32()}
		coded := convolve(p.message())
		if len(coded) != codedBits {
			t.Fatalf("%d coded bits, want %d", len(coded), codedBits)
		}
		soft := make([]float64, len(coded))
		for i, b := range coded {
			// Amplitude-SNR 1.5: about 7 % of the bits arrive flipped,
			// as in the harder attacked clips.
			soft[i] = 1.5*(2*float64(b)-1) + rng.NormFloat64()
			if (soft[i] > 0) != (b == 1) {
				rawErrors++
			}
		}
		got, ok := payloadFromMessage(viterbi(soft))
		if ok && got == p {
			decoded++
		} else if ok {
			t.Errorf("wrong payload %v passed the CRC (sent %v)", got, p)
		}
	}
	t.Logf("%.1f %% of coded bits flipped by noise; %d of %d payloads decoded", 100*float64(rawErrors)/(trials*codedBits), decoded, trials)
	if decoded < trials*99/100 {
		t.Errorf("decoded %d of %d", decoded, trials)
	}
	// Every single-bit change of a message fails the CRC.
	m := Payload{Version: 1, ContentID: 0xCAFEF00D}.message()
	for i := range 64 {
		if _, ok := payloadFromMessage(m ^ 1<<i); ok {
			t.Errorf("flipping bit %d passes the CRC", i)
		}
	}
	// Pure noise decodes to an invalid payload (2⁻²⁴ chance otherwise).
	valid := 0
	for range 500 {
		soft := make([]float64, codedBits)
		for i := range soft {
			soft[i] = rng.NormFloat64()
		}
		if _, ok := payloadFromMessage(viterbi(soft)); ok {
			valid++
		}
	}
	if valid > 0 {
		t.Errorf("%d of 500 noise inputs decoded to a valid payload", valid)
	}
}

// List decoding: its best message is the plain Viterbi decoder's, and
// offering the 32 best to the CRC decodes payloads the best alone misses.
func TestListDecoding(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	const trials = 300
	plain, listed := 0, 0
	for range trials {
		p := Payload{Version: uint8(rng.IntN(256)), ContentID: rng.Uint32()}
		soft := make([]float64, codedBits)
		for i, b := range convolve(p.message()) {
			// Amplitude-SNR 1.1: the plain decoder fails about one payload
			// in five.
			soft[i] = 1.1*(2*float64(b)-1) + rng.NormFloat64()
		}
		list := listViterbi(soft, payloadListSize)
		if len(list) != payloadListSize || list[0] != viterbi(soft) {
			t.Fatalf("list of %d, first %x, Viterbi %x", len(list), list[0], viterbi(soft))
		}
		if got, ok := payloadFromMessage(list[0]); ok && got == p {
			plain++
		}
		for _, m := range list {
			if got, ok := payloadFromMessage(m); ok {
				if got == p {
					listed++
				} else {
					t.Errorf("wrong payload %v passed the CRC (sent %v)", got, p)
				}
				break
			}
		}
	}
	t.Logf("at SNR 1.1: best path decodes %d of %d payloads, the list %d", plain, trials, listed)
	if listed < trials*93/100 || listed < plain+trials/10 {
		t.Errorf("the list decoded %d of %d (the best path alone %d)", listed, trials, plain)
	}
}

// Stills: the sample images marked at the default strength stay above
// 40 dB PSNR, and the mark and payload are found in each single image, also
// after saving as PNG and as JPEG at quality 90.
func TestStills(t *testing.T) {
	var minP, sumP float64 = math.Inf(1), 0
	for i, name := range testmedia.ReferenceImages {
		img, err := media.LoadImage(testmedia.Path(t, name+".png"))
		if err != nil {
			t.Fatal(err)
		}
		p := Payload{Version: Version, ContentID: 0xA0000000 + uint32(i)}
		marked := cloneRGBA(img)
		NewEmbedder(p).Embed(marked)
		q := psnr(img, marked)
		minP, sumP = min(minP, q), sumP+q
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, marked, &jpeg.Options{Quality: 90}); err != nil {
			t.Fatal(err)
		}
		fromJPEG, err := jpeg.Decode(&buf)
		if err != nil {
			t.Fatal(err)
		}
		r, rj := DetectImage(marked), DetectImage(fromJPEG)
		t.Logf("%-13s PSNR %.2f dB; lossless: z=%.1f %v; JPEG q90: z=%.1f %v", name, q, r.Confidence, r.Payload, rj.Confidence, rj.Payload)
		for what, r := range map[string]Result{"lossless": r, "JPEG": rj} {
			if !r.Found || !r.PayloadValid || r.Payload != p || r.Frames != 1 {
				t.Errorf("%s %s: %+v, want payload %v", name, what, r, p)
			}
		}
		if q < 40 {
			t.Errorf("%s: PSNR %.2f dB < 40", name, q)
		}
	}
	t.Logf("PSNR over %d stills: min %.2f dB, mean %.2f dB", len(testmedia.ReferenceImages), minP, sumP/float64(len(testmedia.ReferenceImages)))
}

// A detector with another key finds nothing in a marked image, and a mark
// made with another key is not facesynth's.
func TestWrongKey(t *testing.T) {
	img, err := media.LoadImage(testmedia.Path(t, "franck_f2000.png"))
	if err != nil {
		t.Fatal(err)
	}
	ours := cloneRGBA(img)
	NewEmbedder(Payload{Version: 1, ContentID: 42}).Embed(ours)
	theirs := cloneRGBA(img)
	NewEmbedder(Payload{Version: 1, ContentID: 42}, WithKey("someone else")).Embed(theirs)
	for _, c := range []struct {
		what string
		r    Result
	}{
		{"our mark, their key", DetectImage(ours, WithKey("someone else"))},
		{"their mark, our key", DetectImage(theirs)},
	} {
		t.Logf("%s: z=%.2f", c.what, c.r.Confidence)
		if c.r.Found || c.r.PayloadValid {
			t.Errorf("%s: %+v", c.what, c.r)
		}
	}
	if r := DetectImage(theirs, WithKey("someone else")); !r.Found || r.Payload.ContentID != 42 {
		t.Errorf("their mark with their key: %+v", r)
	}
}

// Marking is deterministic, works on sub-images and odd sizes, and no
// input makes the embedder or detector panic.
func TestEdgeCases(t *testing.T) {
	img, err := media.LoadImage(testmedia.Path(t, "franck_f0500.png"))
	if err != nil {
		t.Fatal(err)
	}
	p := Payload{Version: 1, ContentID: 7}
	a, b := cloneRGBA(img), cloneRGBA(img)
	NewEmbedder(p).Embed(a)
	e := NewEmbedder(p)
	e.Embed(image.NewRGBA(image.Rect(0, 0, 33, 17))) // another size first: buffers must be redone
	e.Embed(b)
	if !bytes.Equal(a.Pix, b.Pix) {
		t.Error("the same payload marks the same frame differently")
	}
	// A sub-image is marked from its own corner; pixels outside stay.
	big := cloneRGBA(img)
	sub := big.SubImage(image.Rect(40, 30, 40+201, 30+157)).(*image.RGBA)
	NewEmbedder(p).Embed(sub)
	if big.RGBAAt(10, 10) != img.RGBAAt(10, 10) || big.RGBAAt(300, 250) != img.RGBAAt(300, 250) {
		t.Error("pixels outside the sub-image changed")
	}
	if r := DetectImage(sub); !r.Found || r.Payload != p {
		t.Errorf("odd-size sub-image: %+v", r)
	}
	// Nothing to mark or see: no panic, nothing found.
	NewEmbedder(p).Embed(nil)
	NewEmbedder(p).Embed(image.NewRGBA(image.Rect(0, 0, 0, 0)))
	NewEmbedder(p).Embed(image.NewRGBA(image.Rect(0, 0, 1, 1)))
	NewEmbedder(p, WithPSNR(math.NaN()), WithKey("")).Embed(image.NewRGBA(image.Rect(0, 0, 3, 200)))
	d := NewDetector()
	d.Add(nil)
	d.Add(image.NewRGBA(image.Rect(0, 0, 5, 5)))
	if r := d.Result(); r.Found || r.Frames != 0 {
		t.Errorf("no usable frames: %+v", r)
	}
	if r := DetectImage(image.NewGray(image.Rect(0, 0, 64, 64))); r.Found || r.Frames != 1 {
		t.Errorf("flat gray image: %+v", r)
	}
}

func TestLabels(t *testing.T) {
	p := Payload{Version: 1, ContentID: 0x0BADC0DE}
	m := Labels(p, "swap")
	if m[CommentKey] != "synthetic: made with facesynth swap; invisible watermark v1/0badc0de" {
		t.Errorf("comment %q", m[CommentKey])
	}
	l, ok := ReadLabels(m)
	if !ok || !l.Synthetic || l.Tool != "facesynth" || l.Operation != "swap" || l.ContentID != "0badc0de" || l.WatermarkVersion != 1 {
		t.Errorf("read back %+v, %v", l, ok)
	}
	if l, ok := ReadLabels(map[string]string{"Comment": "Synthetic: someone's"}); !ok || !l.Synthetic || l.Tool != "" {
		t.Errorf("comment only: %+v %v", l, ok)
	}
	if _, ok := ReadLabels(map[string]string{"comment": "holiday", "encoder": "Lavf59"}); ok {
		t.Error("unlabelled metadata read as labelled")
	}
}
