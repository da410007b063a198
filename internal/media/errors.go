package media

import (
	"errors"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"sync"
)

// kind is a class of failure. Every error this package returns for bad input
// wraps one of the Err values below, so callers branch with errors.Is.
type kind string

func (k kind) Error() string { return "media: " + string(k) }

// The kinds of failure. ErrNoFFmpeg is returned as is; the others arrive
// wrapped in an *Error that names the operation, the file and, where it
// helps, ffmpeg's own last word.
var (
	ErrNoFFmpeg = errors.New("media: ffmpeg not found in PATH (install Debian package ffmpeg)")

	ErrEmpty    error = kind("empty file")
	ErrNotMedia error = kind("not a media file")
	// ErrCorrupt is a file that starts like a known container but cannot be
	// read to its end: truncated downloads, damaged streams.
	ErrCorrupt  error = kind("corrupt or truncated media")
	ErrNoVideo  error = kind("no video stream")
	ErrNoAudio  error = kind("no audio stream")
	ErrTooLarge error = kind("image too large")
	// ErrFormat is an image format or file extension this package does not
	// read or write (it handles PNG and JPEG).
	ErrFormat error = kind("unsupported format")
	// ErrInvalid is a bad argument from the caller: a frame of the wrong
	// size, a rate or option out of range.
	ErrInvalid error = kind("invalid argument")
	// ErrFFmpeg is ffmpeg failing for a reason that is not one of the above
	// (a bad option, a full disk); the message carries ffmpeg's last line.
	ErrFFmpeg error = kind("ffmpeg failed")
)

// Error is one failed operation on one file. Its message is a single line:
// "media: <op> <path>: <what went wrong> (<detail>)".
type Error struct {
	Op     string // "probe", "open video", "read frame", "write video", ...
	Path   string
	Err    error  // a kind above, or an underlying error (fs.ErrNotExist, context.Canceled)
	Detail string // ffmpeg's last stderr line or counts; may be empty
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("media: ")
	b.WriteString(e.Op)
	if e.Path != "" {
		b.WriteString(" ")
		b.WriteString(e.Path)
	}
	b.WriteString(": ")
	if k, ok := e.Err.(kind); ok {
		b.WriteString(string(k)) // the "media: " prefix is already there
	} else if e.Err != nil {
		b.WriteString(oneLine(e.Err.Error()))
	}
	if e.Detail != "" {
		b.WriteString(" (")
		b.WriteString(oneLine(e.Detail))
		b.WriteString(")")
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

func newError(op, path string, err error, detail string) *Error {
	return &Error{Op: op, Path: path, Err: err, Detail: detail}
}

// toolMissing is ErrNoFFmpeg for ffprobe, whose message must name the
// binary that is actually missing.
type toolMissing string

func (t toolMissing) Error() string {
	return "media: " + string(t) + " not found in PATH (install Debian package ffmpeg)"
}
func (t toolMissing) Is(target error) bool { return target == ErrNoFFmpeg }

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	return s
}

// stderrTail keeps the last few kilobytes ffmpeg writes to stderr: enough to
// explain a failure, bounded however much a damaged file makes it complain.
type stderrTail struct {
	mu  sync.Mutex
	buf []byte
}

const stderrKeep = 8 << 10

func (t *stderrTail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*stderrKeep {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-stderrKeep:]...)
	}
	return len(p), nil
}

func (t *stderrTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// ffContext matches the "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55d0c0ffee00] " prefix
// ffmpeg puts before a component's messages: noise in a one-line error.
var ffContext = regexp.MustCompile(`^\[[^\]]* @ 0x[0-9a-f]+\] `)

// lastLine is the last non-empty line of ffmpeg's stderr, without the
// component prefix and without the input name ffmpeg repeats (the error
// message names the file already). ffmpeg often ends with a generic line
// ("Invalid data found when processing input") after the specific one
// ("moov atom not found"); the specific one is the useful one.
func lastLine(stderr, arg string) string {
	var lines []string
	for _, l := range strings.Split(stderr, "\n") {
		l = ffContext.ReplaceAllString(strings.TrimSpace(l), "")
		if arg != "" {
			l = strings.TrimPrefix(l, arg+": ")
		}
		if l != "" {
			lines = append(lines, l)
		}
	}
	switch n := len(lines); {
	case n == 0:
		return ""
	case n >= 2 && strings.HasSuffix(lines[n-1], "Invalid data found when processing input"):
		return lines[n-2]
	default:
		return lines[n-1]
	}
}

// osErr strips the *PathError or *LinkError around a system error: their
// paths are this package's temporary names, which would only confuse a
// message that already names the user's file.
func osErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
