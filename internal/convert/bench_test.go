package convert

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/facesynth/facesynth/internal/swap"
	"github.com/facesynth/facesynth/internal/testmedia"
)

// BenchmarkConvertLight converts 100 frames of cap13 end to end (decode,
// track, swap, blend, label, encode) with a fresh light network; the
// network's weights do not change the work per frame. `facesynth bench
// convert` reports the same figure as a median over repetitions.
//
// The sub-benchmarks, in one run so their ratios are like-for-like on this
// shared machine: "shipped" is what convert does; "sequential" runs the
// same stages in one goroutine (what the pipeline gains); "unlabelled"
// drops the watermark stage (what labelling costs, issue #8's ≤ 10 %).
func BenchmarkConvertLight(b *testing.B) {
	variants := []struct {
		name                string
		pipelined, labelled bool
	}{
		{"shipped", true, true},
		{"sequential", false, true},
		{"unlabelled", true, false},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			defer func(p, l bool) { pipelined, labelled = p, l }(pipelined, labelled)
			pipelined, labelled = v.pipelined, v.labelled
			benchConvert(b)
		})
	}
}

func benchConvert(b *testing.B) {
	arch, _ := swap.ArchByName("light")
	m, err := swap.New(arch)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	in := testmedia.Path(b, "cap13_edit2.mp4")
	out := filepath.Join(b.TempDir(), "out.mp4")
	const n = 100
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		s, err := Run(context.Background(), m, in, out, Options{Limit: n}, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(s.FPS, "fps")
	}
	// CPU time (this process and its ffmpeg children) per frame: on a
	// shared machine it moves far less than wall time, so the label's
	// share of the work is best read from it.
	b.ReportMetric((cpuTime()-cpu0).Seconds()*1000/float64(b.N*n), "cpu-ms/frame")
}

func cpuTime() time.Duration {
	var self, kids syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(self.Utime) + tv(self.Stime) + tv(kids.Utime) + tv(kids.Stime)
}
