package media

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/facesynth/facesynth/internal/testmedia"
)

// benchRead decodes the first 1000 frames of franck.mp4 per iteration and
// reports frames/s.
func benchRead(b *testing.B, rgb24 bool) {
	path := testmedia.Path(b, "franck.mp4")
	const frames = 1000
	var cpu time.Duration // ffmpeg's and this process's CPU time: robust on a busy machine
	self0 := selfCPU()
	for range b.N {
		r, err := openVideo(context.Background(), path, rgb24)
		if err != nil {
			b.Fatal(err)
		}
		img := r.NewFrame()
		for range frames {
			if err := r.Read(img); err != nil {
				b.Fatal(err)
			}
		}
		r.Close()
		cpu += r.cmd.ProcessState.UserTime() + r.cmd.ProcessState.SystemTime()
	}
	cpu += selfCPU() - self0
	b.ReportMetric(float64(b.N*frames)/b.Elapsed().Seconds(), "frames/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*frames), "cpu-µs/frame")
}

func BenchmarkReadFranck(b *testing.B) {
	b.Run("rgba", func(b *testing.B) { benchRead(b, false) })
	b.Run("rgb24", func(b *testing.B) { benchRead(b, true) })
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
