package blend

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// The converter's crops are 64–256 px; each verb is measured at 128 and 256
// on real faces with the masks the converter would use (radii scale with
// the crop: size/16).
var benchSizes = []int{128, 256}

// benchEach runs, for each size, setup and then the operation it returns
// b.N times. Besides wall time it reports CPU time over all threads: on a
// shared machine that is steadier, and it shows what the row-parallelism
// costs in total.
func benchEach(b *testing.B, setup func(b *testing.B, size int) func() error) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			op := setup(b, size)
			start := cpuTime()
			b.ResetTimer()
			for range b.N {
				if err := op(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkMatchColorReinhard(b *testing.B) {
	benchEach(b, func(b *testing.B, size int) func() error {
		dst, src, mask := pasteCase(b, size, size/32)
		return func() error {
			_, err := MatchColor(src, dst, mask, Reinhard)
			return err
		}
	})
}

func BenchmarkMatchColorHistogram(b *testing.B) {
	benchEach(b, func(b *testing.B, size int) func() error {
		dst, src, mask := pasteCase(b, size, size/32)
		return func() error {
			_, err := MatchColor(src, dst, mask, Histogram)
			return err
		}
	})
}

func BenchmarkStats(b *testing.B) {
	benchEach(b, func(b *testing.B, size int) func() error {
		_, src, mask := pasteCase(b, size, size/32)
		return func() error {
			Stats(src, mask)
			return nil
		}
	})
}

func BenchmarkApplyReinhard(b *testing.B) {
	benchEach(b, func(b *testing.B, size int) func() error {
		dst, src, mask := pasteCase(b, size, size/32)
		from, to := Stats(src, mask), Stats(dst, mask)
		return func() error {
			ApplyReinhard(src, from, to)
			return nil
		}
	})
}

func BenchmarkErode(b *testing.B) {
	benchEach(b, func(b *testing.B, size int) func() error {
		_, hull := faceCrop(b, "franck_f1000", size)
		return func() error {
			Erode(hull, size/16)
			return nil
		}
	})
}

func BenchmarkDilate(b *testing.B) {
	benchEach(b, func(b *testing.B, size int) func() error {
		_, hull := faceCrop(b, "franck_f1000", size)
		return func() error {
			Dilate(hull, size/16)
			return nil
		}
	})
}

func BenchmarkFeather(b *testing.B) {
	benchEach(b, func(b *testing.B, size int) func() error {
		_, hull := faceCrop(b, "franck_f1000", size)
		return func() error {
			Feather(hull, size/16)
			return nil
		}
	})
}

func BenchmarkIntersect(b *testing.B) {
	benchEach(b, func(b *testing.B, size int) func() error {
		_, m1 := faceCrop(b, "franck_f1000", size)
		_, m2 := faceCrop(b, "astronaut", size)
		return func() error {
			_, err := Intersect(m1, m2)
			return err
		}
	})
}

func BenchmarkAlpha(b *testing.B) {
	benchEach(b, func(b *testing.B, size int) func() error {
		dst, src, mask := pasteCase(b, size, size/32)
		return func() error {
			_, err := Alpha(dst, src, mask)
			return err
		}
	})
}

func BenchmarkPoisson(b *testing.B) {
	benchEach(b, func(b *testing.B, size int) func() error {
		dst, src, mask := pasteCase(b, size, size/32)
		return func() error {
			_, err := Poisson(dst, src, mask, 0)
			return err
		}
	})
}

func BenchmarkSeamDifference(b *testing.B) {
	benchEach(b, func(b *testing.B, size int) func() error {
		dst, _, mask := pasteCase(b, size, size/32)
		return func() error {
			_, err := SeamDifference(dst, mask)
			return err
		}
	})
}

func BenchmarkRegionFlicker(b *testing.B) {
	benchEach(b, func(b *testing.B, size int) func() error {
		dst, src, mask := pasteCase(b, size, size/32)
		return func() error {
			_, err := RegionFlicker(dst, src, mask)
			return err
		}
	})
}
