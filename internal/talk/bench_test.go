package talk

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/facesynth/facesynth/internal/testmedia"
)

// BenchmarkTalk is `facesynth bench talk`: the astronaut (512×512) says
// jfk.wav (11 s), end to end; x-realtime is seconds of video per second.
func BenchmarkTalk(b *testing.B) {
	photo, wav := testmedia.Path(b, "astronaut.png"), testmedia.Path(b, "jfk.wav")
	out := filepath.Join(b.TempDir(), "out.mp4")
	for i := 0; i < b.N; i++ {
		s, err := Run(context.Background(), photo, Speech{Audio: wav}, out, Options{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(s.Speed(), "x-realtime")
	}
}
