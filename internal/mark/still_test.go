package mark

import (
	"image"
	"image/draw"
	"math"
	"testing"

	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/testmedia"
)

// TestStill marks frames of the astronaut photo whose face region was
// replaced (by the face of another photo, so texture and brightness there
// change) with a Still, and compares them with frames marked whole.
func TestStill(t *testing.T) {
	photo, err := media.LoadImage(testmedia.Path(t, "astronaut.png"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := media.LoadImage(testmedia.Path(t, "franck_f0000.png"))
	if err != nil {
		t.Fatal(err)
	}
	// An odd region, not on the 8-pixel blocks, and an origin not at 0,0
	// for the picture, to exercise the coordinate handling.
	region := image.Rect(171, 93, 333, 291)
	shifted := image.NewRGBA(photo.Rect.Add(image.Pt(40, 7)))
	draw.Draw(shifted, shifted.Rect, photo, photo.Rect.Min, draw.Src)
	p := Payload{Version: Version, ContentID: 0x5711}
	e := NewEmbedder(p)
	still := e.NewStill(shifted, region.Add(image.Pt(40, 7)))
	if got := still.Rect(); got != image.Rect(168, 88, 336, 296) {
		t.Fatalf("Rect %v, want the region widened to 8-px blocks (168,88)-(336,296)", got)
	}

	frame := image.NewRGBA(photo.Rect)
	copy(frame.Pix, photo.Pix)
	draw.Draw(frame, region, other, image.Pt(110, 40), draw.Src)
	unmarked := cloneRGBA(frame)
	viaStill := cloneRGBA(frame)
	NewEmbedder(p).EmbedFrame(viaStill, still)
	whole := cloneRGBA(frame)
	NewEmbedder(p).Embed(whole)

	// Outside the region: exactly the marked picture.
	markedPhoto := cloneRGBA(photo)
	NewEmbedder(p).Embed(markedPhoto)
	r := still.Rect()
	for y := 0; y < 512; y++ {
		for x := 0; x < 512; x++ {
			if image.Pt(x, y).In(r) {
				continue
			}
			i := viaStill.PixOffset(x, y)
			if viaStill.Pix[i] != markedPhoto.Pix[i] || viaStill.Pix[i+1] != markedPhoto.Pix[i+1] {
				t.Fatalf("pixel (%d,%d) outside the region differs from the marked photo", x, y)
			}
		}
	}
	// Inside: the same mark as a whole-frame Embed, up to the strength.
	var se, n float64
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			i := viaStill.PixOffset(x, y) + 1
			d := float64(viaStill.Pix[i]) - float64(whole.Pix[i])
			se += d * d
			n++
		}
	}
	rms := math.Sqrt(se / n)
	q := psnr(unmarked, viaStill)
	t.Logf("region %v: RMS difference from a whole-frame mark %.2f levels; PSNR %.2f dB (whole-frame mark %.2f dB)",
		r, rms, q, psnr(unmarked, whole))
	// The mark itself is 2.4 levels RMS; the two differ by the strength
	// and the dither's rounding only.
	if rms > 0.8 {
		t.Errorf("inside the region the mark differs from a whole-frame mark by %.2f levels RMS, want ≤ 0.8", rms)
	}
	if q < 40 {
		t.Errorf("PSNR %.2f dB, want ≥ 40", q)
	}
	res := DetectImage(viaStill)
	if !res.Found || res.Payload != p {
		t.Errorf("detect: %+v, want payload %v", res, p)
	}

	// A frame of another size is marked whole.
	small := image.NewRGBA(image.Rect(0, 0, 256, 256))
	draw.Draw(small, small.Rect, photo, image.Pt(128, 128), draw.Src)
	a, b := cloneRGBA(small), cloneRGBA(small)
	NewEmbedder(p).EmbedFrame(a, still)
	NewEmbedder(p).Embed(b)
	if psnr(a, b) != math.Inf(1) {
		t.Error("a frame of another size is not marked as Embed marks it")
	}
}

// BenchmarkEmbedFrame marks a 512×512 talking-photo frame whose moving
// region is the astronaut's face (about 180×220), against BenchmarkEmbed
// of the whole frame.
func BenchmarkEmbedFrame(b *testing.B) {
	photo, err := media.LoadImage(testmedia.Path(b, "astronaut.png"))
	if err != nil {
		b.Fatal(err)
	}
	e := NewEmbedder(Payload{Version: Version, ContentID: 1})
	still := e.NewStill(photo, image.Rect(160, 60, 340, 280))
	frame := image.NewRGBA(photo.Rect)
	b.Run("still", func(b *testing.B) {
		for range b.N {
			copy(frame.Pix, photo.Pix)
			e.EmbedFrame(frame, still)
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/frame")
	})
	b.Run("whole", func(b *testing.B) {
		for range b.N {
			copy(frame.Pix, photo.Pix)
			e.Embed(frame)
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/frame")
	})
}
