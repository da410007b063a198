package progress

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// fakeClock advances by step on every reading, so rates and ETAs are exact.
func fakeClock(step time.Duration) func() time.Time {
	t := time.Unix(0, 0)
	return func() time.Time { t = t.Add(step); return t }
}

func TestBarTextETA(t *testing.T) {
	var buf bytes.Buffer
	b := NewBar(&buf, "extract", "frames", Options{Every: time.Nanosecond})
	b.now = fakeClock(time.Second)
	b.start = b.now() // t=1s
	b.Report(10, 40, "faces 10")
	// Report reads the clock once (t=2s) and print once more (t=3s): 10 frames in 2 s.
	got := buf.String()
	for _, want := range []string{"25% 10/40 frames", "5.0 frames/s", "ETA 0:06", "| faces 10"} {
		if !strings.Contains(got, want) {
			t.Errorf("line %q lacks %q", got, want)
		}
	}
	b.Done()
	if n := strings.Count(buf.String(), "\n"); n != 2 {
		t.Errorf("want 2 lines (one report, one final), got %d: %q", n, buf.String())
	}
	b.Done() // idempotent
	if n := strings.Count(buf.String(), "\n"); n != 2 {
		t.Errorf("second Done printed again")
	}
}

func TestBarThrottles(t *testing.T) {
	var buf bytes.Buffer
	b := NewBar(&buf, "train", "steps", Options{Every: time.Hour})
	for i := 0; i < 1000; i++ {
		b.Report(i, 1000, "")
	}
	if n := strings.Count(buf.String(), "\n"); n > 1 {
		t.Errorf("throttle failed: %d lines for 1000 reports within an hour", n)
	}
}

func TestBarJSON(t *testing.T) {
	var buf bytes.Buffer
	b := NewBar(&buf, "train", "steps", Options{JSON: true, Every: time.Nanosecond})
	b.Report(5, 10, "loss 0.1")
	b.Done()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 JSON lines, got %d", len(lines))
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["done"].(float64) != 5 || rec["final"] != true || rec["status"] != "loss 0.1" {
		t.Errorf("bad record %v", rec)
	}
}

func TestNil(t *testing.T) {
	Of(nil).Report(1, 2, "x")
	Of(nil).Done()
}
