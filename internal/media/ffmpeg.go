package media

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"time"
)

// ffArgs start every ffmpeg command line: no reading the terminal (ffmpeg
// would otherwise steal keystrokes and stop in the background), and only
// errors on stderr, so the stderr tail is the explanation of a failure.
var ffArgs = []string{"-nostdin", "-hide_banner", "-loglevel", "error"}

// tool finds ffmpeg or ffprobe in PATH. It is looked up on every call (a
// few stat calls) so a changed PATH is honoured.
func tool(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		if name == "ffmpeg" {
			return "", ErrNoFFmpeg
		}
		return "", toolMissing(name)
	}
	return p, nil
}

// fileArg hands a path to ffmpeg as a plain file: without the "file:"
// protocol prefix a name such as "concat:a|b", "http://x" or one containing
// a colon would be read as a protocol.
func fileArg(path string) string { return "file:" + path }

// command prepares an ffmpeg/ffprobe process that dies with ctx, with its
// stderr collected into a bounded tail.
func command(ctx context.Context, bin string, args ...string) (*exec.Cmd, *stderrTail) {
	cmd := exec.CommandContext(ctx, bin, args...)
	tail := &stderrTail{}
	cmd.Stderr = tail
	// Wait must not hang on the stderr copy if ffmpeg is killed while some
	// descendant still holds the pipe.
	cmd.WaitDelay = 5 * time.Second
	return cmd, tail
}

// run runs a command to completion, returning its stdout. On failure the
// error is an *Error of kind k (or the context's error), with ffmpeg's last
// stderr line as detail.
func run(ctx context.Context, op, path string, k error, bin string, args ...string) ([]byte, error) {
	cmd, tail := command(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	err := cmd.Run()
	if ctx.Err() != nil {
		return nil, newError(op, path, ctx.Err(), "")
	}
	if err != nil {
		detail := lastLine(tail.String(), "")
		if detail == "" {
			detail = err.Error()
		}
		return nil, newError(op, path, k, detail)
	}
	return out.Bytes(), nil
}

// checkInput gives the clear errors a missing, empty or special file
// deserves before any subprocess sees it. A FIFO or device would make
// ffprobe wait for data forever, so only regular files are accepted.
func checkInput(op, path string) error {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return newError(op, path, fs.ErrNotExist, "")
		}
		return newError(op, path, err, "")
	}
	if st.IsDir() {
		return newError(op, path, ErrNotMedia, "is a directory")
	}
	if !st.Mode().IsRegular() {
		return newError(op, path, ErrNotMedia, "not a regular file")
	}
	if st.Size() == 0 {
		return newError(op, path, ErrEmpty, "")
	}
	return nil
}

// looksLikeMedia tells a damaged media file from something that was never
// media, by the signature at its start. ffmpeg cannot: it guesses the
// demuxer from the extension, so a text file named .mp4 and a truncated MP4
// both end in "moov atom not found".
func looksLikeMedia(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [189]byte
	n, _ := io.ReadFull(f, b[:])
	h := b[:n]
	has := func(off int, sig string) bool {
		return len(h) >= off+len(sig) && string(h[off:off+len(sig)]) == sig
	}
	for _, box := range []string{"ftyp", "moov", "mdat", "free", "wide", "skip", "pnot"} {
		if has(4, box) { // ISO BMFF / QuickTime: size, then box type
			return true
		}
	}
	for _, sig := range []string{
		"\x1a\x45\xdf\xa3", // Matroska, WebM
		"RIFF", "FORM", "OggS", "fLaC", "ID3", "FLV",
		"\x00\x00\x01\xba", "\x00\x00\x01\xb3", "\x00\x00\x00\x01", // MPEG-PS, MPEG video, H.264 Annex B
		"\x30\x26\xb2\x75", // ASF / WMV
		"\x89PNG", "\xff\xd8\xff", "GIF8",
	} {
		if has(0, sig) {
			return true
		}
	}
	if len(h) >= 2 && h[0] == 0xff && h[1]&0xe0 == 0xe0 { // MP3 / ADTS frame sync
		return true
	}
	return len(h) == 189 && h[0] == 0x47 && h[188] == 0x47 // MPEG-TS: a sync byte every 188 bytes
}
