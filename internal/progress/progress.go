// Package progress reports how far a long job is. Working packages take a
// Reporter and call Report as they go; nil means nobody is listening. The
// command line gives them a Bar (a throttled bar with ETA on a terminal, a
// line every few seconds in a log) or JSON lines for programs.
package progress

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Reporter receives progress: done of total units (total 0 = unknown) and
// an optional status text such as current losses. Report may be called very
// often; implementations throttle. Done prints the final state.
type Reporter interface {
	Report(done, total int, status string)
	Done()
}

// Of returns r, or a Reporter that does nothing when r is nil, so working
// packages never check for nil.
func Of(r Reporter) Reporter {
	if r == nil {
		return nop{}
	}
	return r
}

type nop struct{}

func (nop) Report(int, int, string) {}
func (nop) Done()                   {}

// Bar prints progress for people (a bar on a terminal, plain lines
// otherwise) or JSON lines for programs.
type Bar struct {
	w      io.Writer
	label  string
	unit   string
	tty    bool
	json   bool
	every  time.Duration
	now    func() time.Time
	mu     sync.Mutex
	start  time.Time
	last   time.Time
	done   int
	total  int
	status string
	width  int // of the last terminal line, to clear it
	closed bool
}

// Options shape a Bar.
type Options struct {
	JSON  bool          // JSON lines instead of text
	Every time.Duration // minimum time between lines (default 200 ms on a terminal, 5 s otherwise, 1 s for JSON)
}

// NewBar reports to w (usually os.Stderr) a job called label counting unit
// ("frames", "steps").
func NewBar(w io.Writer, label, unit string, opts Options) *Bar {
	b := &Bar{w: w, label: label, unit: unit, json: opts.JSON, every: opts.Every, now: time.Now}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			b.tty = true
		}
	}
	if b.every == 0 {
		switch {
		case b.json:
			b.every = time.Second
		case b.tty:
			b.every = 200 * time.Millisecond
		default:
			b.every = 5 * time.Second
		}
	}
	b.start = b.now()
	return b
}

// Report records progress and prints when the throttle interval has passed.
func (b *Bar) Report(done, total int, status string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done, b.total, b.status = done, total, status
	if t := b.now(); t.Sub(b.last) >= b.every {
		b.last = t
		b.print(false)
	}
}

// Done prints the final line once.
func (b *Bar) Done() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	b.print(true)
}

func (b *Bar) print(final bool) {
	elapsed := b.now().Sub(b.start)
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(b.done) / s
	}
	eta := time.Duration(-1)
	if b.total > 0 && rate > 0 && b.done <= b.total {
		eta = time.Duration(float64(b.total-b.done) / rate * float64(time.Second))
	}
	if b.json {
		rec := map[string]any{"job": b.label, "done": b.done, "total": b.total, "unit": b.unit,
			"rate": round2(rate), "elapsed_s": round2(elapsed.Seconds()), "final": final}
		if eta >= 0 {
			rec["eta_s"] = round2(eta.Seconds())
		}
		if b.status != "" {
			rec["status"] = b.status
		}
		line, _ := json.Marshal(rec)
		fmt.Fprintf(b.w, "%s\n", line)
		return
	}
	var s strings.Builder
	s.WriteString(b.label)
	s.WriteByte(' ')
	if b.total > 0 {
		frac := float64(b.done) / float64(b.total)
		if frac > 1 {
			frac = 1
		}
		const n = 24
		fill := int(frac * n)
		s.WriteString("[" + strings.Repeat("=", fill) + strings.Repeat(" ", n-fill) + "] ")
		fmt.Fprintf(&s, "%3.0f%% %d/%d %s", frac*100, b.done, b.total, b.unit)
	} else {
		fmt.Fprintf(&s, "%d %s", b.done, b.unit)
	}
	fmt.Fprintf(&s, " %.1f %s/s", rate, b.unit)
	if final {
		fmt.Fprintf(&s, " in %s", clock(elapsed))
	} else if eta >= 0 {
		fmt.Fprintf(&s, " ETA %s", clock(eta))
	}
	if b.status != "" {
		s.WriteString(" | " + b.status)
	}
	line := s.String()
	if b.tty {
		pad := ""
		if b.width > len(line) {
			pad = strings.Repeat(" ", b.width-len(line))
		}
		b.width = len(line)
		end := ""
		if final {
			end = "\n"
		}
		fmt.Fprintf(b.w, "\r%s%s%s", line, pad, end)
		return
	}
	fmt.Fprintln(b.w, line)
}

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }

// clock formats a duration as h:mm:ss or m:ss.
func clock(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
