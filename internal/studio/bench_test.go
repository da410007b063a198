package studio

import (
	"net/http"
	"os"
	"testing"

	"github.com/facesynth/facesynth/internal/testmedia"
)

// BenchmarkUpload times an upload end to end over loopback HTTP: the
// multipart body, the type sniffing, the check of the content (a full PNG
// decode for a photo, an ffprobe run for audio) and the atomic writes.
func BenchmarkUpload(b *testing.B) {
	for _, name := range []string{"astronaut.png", "jfk.wav"} {
		b.Run(name, func(b *testing.B) {
			data, err := os.ReadFile(testmedia.Path(b, name))
			if err != nil {
				b.Fatal(err)
			}
			c := start(b, Config{})
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if res, body := c.uploadBytes(name, data); res.StatusCode != http.StatusCreated {
					b.Fatalf("%s: %s", res.Status, body)
				}
			}
		})
	}
}
