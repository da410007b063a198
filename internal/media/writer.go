package media

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/facesynth/facesynth/internal/fsutil"
)

// WriterOptions tune CreateVideo. The zero value (with FPS set) gives
// visually lossless H.264.
type WriterOptions struct {
	FPS    float64 // frames per second; required
	CRF    int     // x264 constant rate factor 1..51, lower is better; 0 means 18 (visually lossless)
	Preset string  // x264 preset, "ultrafast" … "veryslow"; "" means "medium"
	// Audio optionally names a file whose first audio stream is muxed in,
	// re-encoded as AAC. The output keeps both streams whole: it lasts as
	// long as the longer of video and audio.
	Audio string
	// AudioOffset shifts the audio in seconds: positive starts it later
	// (silence first), negative drops its first -AudioOffset seconds.
	AudioOffset float64
	// Metadata are container tags ("comment", or keys of the caller's
	// own such as "facesynth"), read back by Probe as Info.Tags. Keys are
	// ASCII names, values UTF-8 text. They are written as QuickTime
	// metadata ('keys' box), the one MP4 form that keeps keys ffmpeg does
	// not know; ffprobe, exiftool and Apple's players read it.
	Metadata map[string]string
}

// DefaultCRF is x264's "visually lossless" quality, used when CRF is 0.
const DefaultCRF = 18

var x264Presets = []string{"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo"}

// Writer encodes frames into an H.264 MP4 file. It writes to a temporary
// file beside the output, which becomes the output only in a successful
// Close; Abort, a failure or a cancelled context remove it, so no partial
// video is ever found under the output's name. Write and Close must be
// called from one goroutine; Abort and cancellation may come from any.
type Writer struct {
	path          string
	width, height int // frame size the caller writes
	encW, encH    int // encoded size: rounded up to even, as yuv420p needs

	ctx    context.Context
	cancel context.CancelFunc
	cmd    *exec.Cmd
	stderr *stderrTail
	pipe   *os.File
	tmp    *fsutil.File
	stop   func() bool // unregisters the cancellation cleanup

	buf []byte // staging frame for anything but a tightly packed RGBA of the encoded size
	n   int

	waitOnce sync.Once
	waitErr  error

	mu   sync.Mutex
	done bool  // finished: committed, aborted or failed
	err  error // the result Close reports
}

// CreateVideo starts an encoder for width×height frames. Odd sizes work:
// H.264 in yuv420p needs even sizes, so the encoded video is one pixel
// wider or taller, the extra column or row repeating its neighbour (no
// black line, and no pixel of the caller's frame is lost).
//
// The output must end in .mp4, .m4v or .mov; it is written as MP4 with the
// index at the front (+faststart) so it streams. Colours are tagged BT.601,
// the matrix used to convert them, so players do not guess BT.709 for large
// frames and shift the colours.
func CreateVideo(ctx context.Context, path string, width, height int, opts WriterOptions) (*Writer, error) {
	const op = "create video"
	if err := checkWriterArgs(path, width, height, &opts); err != nil {
		return nil, err
	}
	if opts.Audio != "" {
		ai, err := Probe(ctx, opts.Audio)
		if err != nil {
			return nil, err
		}
		if !ai.HasAudio {
			return nil, newError(op, opts.Audio, ErrNoAudio, "the file given as audio for "+path)
		}
	}
	bin, err := tool("ffmpeg")
	if err != nil {
		return nil, err
	}
	w := &Writer{path: path, width: width, height: height, encW: width + width%2, encH: height + height%2}

	tmp, err := fsutil.CreateTemp(path)
	if err != nil {
		return nil, newError(op, path, osErr(err), "")
	}
	args := append([]string{}, ffArgs...)
	args = append(args,
		"-f", "rawvideo", "-pix_fmt", "rgba", "-s", fmt.Sprintf("%dx%d", w.encW, w.encH),
		"-framerate", rational(opts.FPS), "-i", "pipe:0")
	if opts.Audio != "" {
		if opts.AudioOffset < 0 {
			args = append(args, "-ss", strconv.FormatFloat(-opts.AudioOffset, 'f', 6, 64))
		}
		args = append(args, "-i", fileArg(opts.Audio))
	}
	args = append(args, "-map", "0:v:0",
		// RGB to BT.601 limited-range yuv420p with accurate rounding, and
		// the stream tagged to match what was done.
		"-vf", "scale=flags=bicubic+accurate_rnd+full_chroma_int:out_color_matrix=bt601:out_range=tv,format=yuv420p",
		"-c:v", "libx264", "-preset", opts.Preset, "-crf", strconv.Itoa(opts.CRF),
		"-colorspace", "smpte170m", "-color_primaries", "smpte170m", "-color_trc", "smpte170m", "-color_range", "tv")
	if opts.Audio != "" {
		args = append(args, "-map", "1:a:0", "-c:a", "aac", "-b:a", "192k")
		if opts.AudioOffset > 0 {
			ms := strconv.FormatFloat(opts.AudioOffset*1000, 'f', 3, 64)
			args = append(args, "-af", "adelay=delays="+ms+":all=1")
		}
	}
	args = append(args, metadataArgs(opts.Metadata)...)
	args = append(args, "-f", "mp4", "-y", fileArg(tmp.Name()))

	pr, pw, err := os.Pipe()
	if err != nil {
		tmp.Abort()
		return nil, newError(op, path, err, "")
	}
	wctx, cancel := context.WithCancel(ctx)
	cmd, tail := command(wctx, bin, args...)
	cmd.Stdin = pr
	if err := cmd.Start(); err != nil {
		cancel()
		pr.Close()
		pw.Close()
		tmp.Abort()
		return nil, newError(op, path, err, "")
	}
	pr.Close()
	w.ctx, w.cancel, w.cmd, w.stderr, w.pipe, w.tmp = ctx, cancel, cmd, tail, pw, tmp
	// A cancelled context kills ffmpeg (exec.CommandContext); this removes
	// the temporary file too, even if the caller never calls Close.
	// Registered under the lock: if ctx is already done the callback runs at
	// once, and finish must not see stop unset.
	w.mu.Lock()
	w.stop = context.AfterFunc(ctx, func() { w.finish(ctx.Err()) })
	w.mu.Unlock()
	return w, nil
}

func checkWriterArgs(path string, width, height int, opts *WriterOptions) error {
	const op = "create video"
	bad := func(format string, a ...any) error {
		return newError(op, path, ErrInvalid, fmt.Sprintf(format, a...))
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".mp4", ".m4v", ".mov":
	default:
		return newError(op, path, ErrFormat, "the writer makes MP4 files: name the output .mp4, .m4v or .mov")
	}
	// x264 and the MP4 muxer top out at 16384 pixels a side.
	if width <= 0 || height <= 0 || width > 16384 || height > 16384 {
		return bad("frame size %dx%d, want 1..16384 each side", width, height)
	}
	if math.IsNaN(opts.FPS) || opts.FPS <= 0 || opts.FPS > 1000 {
		return bad("frame rate %v, want > 0 and <= 1000", opts.FPS)
	}
	if opts.CRF == 0 {
		opts.CRF = DefaultCRF
	}
	if opts.CRF < 1 || opts.CRF > 51 {
		return bad("CRF %d, want 1..51", opts.CRF)
	}
	if opts.Preset == "" {
		opts.Preset = "medium"
	}
	known := false
	for _, p := range x264Presets {
		known = known || p == opts.Preset
	}
	if !known {
		return bad("preset %q, want one of %s", opts.Preset, strings.Join(x264Presets, ", "))
	}
	if math.IsNaN(opts.AudioOffset) || math.IsInf(opts.AudioOffset, 0) {
		return bad("audio offset %v", opts.AudioOffset)
	}
	return checkMeta(op, path, opts.Metadata)
}

// metadataArgs are the ffmpeg output options for MP4 tags, ending with the
// -movflags every MP4 this package writes has. Without use_metadata_tags
// the MP4 muxer silently drops every key it has no atom for.
func metadataArgs(meta map[string]string) []string {
	var args []string
	for _, k := range sortedKeys(meta) {
		args = append(args, "-metadata", k+"="+meta[k])
	}
	flags := "+faststart"
	if len(meta) > 0 {
		flags += "+use_metadata_tags"
	}
	return append(args, "-movflags", flags)
}

// rational writes a frame rate the way ffmpeg stores it, so that 29.97 from
// a probe ("30000/1001") goes back as 30000/1001 and not as 2997/100.
func rational(fps float64) string {
	for _, den := range []int64{1, 1001, 1000, 100} {
		num := math.Round(fps * float64(den))
		if math.Abs(num/float64(den)-fps) < 1e-9*fps {
			return strconv.FormatInt(int64(num), 10) + "/" + strconv.FormatInt(den, 10)
		}
	}
	return strconv.FormatInt(int64(math.Round(fps*1e6)), 10) + "/1000000"
}

// Path is the output the video will have after Close.
func (w *Writer) Path() string { return w.path }

// FramesWritten counts the frames accepted so far.
func (w *Writer) FramesWritten() int { return w.n }

// Write encodes one frame of the size given to CreateVideo. An *image.RGBA
// of even size goes to ffmpeg without a copy; other images are converted.
// Alpha is ignored (the pixels are taken as if composited over black).
func (w *Writer) Write(img image.Image) error {
	w.mu.Lock()
	done, err := w.done, w.err
	w.mu.Unlock()
	if done {
		if err == nil {
			err = newError("write video", w.path, os.ErrClosed, "")
		}
		return err
	}
	if img == nil || img.Bounds().Dx() != w.width || img.Bounds().Dy() != w.height {
		size := "nil"
		if img != nil {
			size = fmt.Sprintf("%dx%d", img.Bounds().Dx(), img.Bounds().Dy())
		}
		return newError("write video", w.path, ErrInvalid,
			fmt.Sprintf("frame %d is %s, the video is %dx%d", w.n, size, w.width, w.height))
	}
	frame := w.frameBytes(img)
	if _, err := w.pipe.Write(frame); err != nil {
		// ffmpeg is gone: it failed, or the context was cancelled.
		return w.finish(err)
	}
	w.n++
	return nil
}

// frameBytes returns the frame in ffmpeg's input layout: encW×encH RGBA
// rows without padding.
func (w *Writer) frameBytes(img image.Image) []byte {
	if m, ok := img.(*image.RGBA); ok && m.Stride == 4*w.encW && w.encW == w.width && w.encH == w.height {
		off := m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y)
		return m.Pix[off : off+4*w.encW*w.encH]
	}
	if w.buf == nil {
		w.buf = make([]byte, 4*w.encW*w.encH)
	}
	dst := &image.RGBA{Pix: w.buf, Stride: 4 * w.encW, Rect: image.Rect(0, 0, w.encW, w.encH)}
	b := img.Bounds()
	draw.Draw(dst, image.Rect(0, 0, w.width, w.height), img, b.Min, draw.Src)
	// Odd sizes: repeat the last column and row into the padding.
	if w.encW != w.width {
		for y := range w.height {
			row := w.buf[y*dst.Stride:]
			copy(row[4*w.width:4*w.encW], row[4*(w.width-1):4*w.width])
		}
	}
	if w.encH != w.height {
		copy(w.buf[w.height*dst.Stride:], w.buf[(w.height-1)*dst.Stride:w.height*dst.Stride])
	}
	return w.buf
}

// Close finishes encoding and moves the video into place. It fails with
// the reason if ffmpeg failed, the context was cancelled or no frame was
// written; in every failure the temporary file is gone. Close after Close
// or Abort returns the first result.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.done {
		defer w.mu.Unlock()
		return w.err
	}
	w.mu.Unlock()
	if w.n == 0 {
		return w.finish(newError("close video", w.path, ErrInvalid, "no frames written"))
	}
	w.pipe.Close() // end of input: ffmpeg flushes the encoder and writes the index
	return w.finish(nil)
}

// Abort stops encoding and removes the temporary file; nothing appears
// under the output name. It is safe to defer and to call after Close.
func (w *Writer) Abort() error {
	w.mu.Lock()
	if w.done {
		w.mu.Unlock()
		return nil
	}
	w.mu.Unlock()
	w.cancel()
	w.finish(errAborted)
	return nil
}

var errAborted = errors.New("aborted")

// finish waits for ffmpeg and settles the outcome once: commit when cause
// is nil and everything succeeded, otherwise remove the temporary file and
// record why. Later calls return the recorded result.
func (w *Writer) finish(cause error) error {
	if cause != nil {
		w.cancel() // a failed write or an early stop: ffmpeg must not keep running
	}
	w.pipe.Close()
	w.waitOnce.Do(func() { w.waitErr = w.cmd.Wait() })

	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return w.err
	}
	w.done = true
	w.stop()
	var e *Error
	switch {
	case w.ctx.Err() != nil:
		w.err = newError("write video", w.path, w.ctx.Err(), "")
	case cause == errAborted:
		w.err = newError("write video", w.path, errAborted, "")
	case errors.As(cause, &e):
		w.err = cause
	case w.waitErr != nil || cause != nil:
		detail := lastLine(w.stderr.String(), "")
		if detail == "" && w.waitErr != nil {
			detail = w.waitErr.Error()
		} else if detail == "" {
			detail = cause.Error()
		}
		w.err = newError("write video", w.path, ErrFFmpeg, detail)
	}
	if w.err != nil {
		w.tmp.Abort()
		return w.err
	}
	if err := w.tmp.Commit(); err != nil {
		w.err = newError("write video", w.path, osErr(err), "")
	}
	return w.err
}
