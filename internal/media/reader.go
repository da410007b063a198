package media

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"os/exec"
	"strconv"
)

// swsExact is the RGB conversion scripts/fetch-media.sh uses for the
// reference PNG frames. Full-resolution chroma interpolation and accurate
// rounding cost decoding speed (franck.mp4 on 2 cores: ~600 instead of
// ~1000 frames/s; single-threaded ffmpeg 1.7 instead of 0.6 ms CPU a frame)
// but make a decoded frame bit-identical to its PNG, so face detection on
// video and on the reference stills sees the same pixels. ffmpeg's default
// conversion differs from it by up to 30 levels at colour edges.
const swsExact = "flags=bicubic+accurate_rnd+full_chroma_int+bitexact"

// Reader streams the decoded frames of a video. It is not safe for
// concurrent use, except that cancelling its context stops it.
type Reader struct {
	info   *Info
	ctx    context.Context
	cancel context.CancelFunc
	cmd    *exec.Cmd
	stderr *stderrTail
	pipe   *os.File

	frameSize int
	rgb24     bool   // ask ffmpeg for rgb24 and expand here (kept for the benchmark comparison)
	buf       []byte // staging for frames that cannot be read straight into dst
	n         int    // frames delivered
	err       error  // sticky: io.EOF or the failure
	waited    bool
	closed    bool
}

// OpenVideo probes a video and starts decoding its first video stream.
// Frames come out in display order as RGBA with alpha 255, turned by the
// file's rotation metadata. A file without video gives ErrNoVideo.
//
// Damage: a file whose index is gone (an MP4 truncated before its moov box,
// as most cameras write them) fails here with ErrCorrupt. A file with an
// intact index but missing or damaged frame data (a truncated "faststart"
// MP4) opens, Read delivers the frames decoded before the damage, and then
// Read fails with ErrCorrupt instead of io.EOF, naming how many of the
// expected frames arrived.
func OpenVideo(ctx context.Context, path string) (*Reader, error) {
	return openVideo(ctx, path, false)
}

func openVideo(ctx context.Context, path string, rgb24 bool) (*Reader, error) {
	info, err := Probe(ctx, path)
	if err != nil {
		return nil, err
	}
	if !info.HasVideo {
		return nil, newError("open video", path, ErrNoVideo, "")
	}
	bin, err := tool("ffmpeg")
	if err != nil {
		return nil, err
	}
	pixFmt, bpp := "rgba", 4
	if rgb24 {
		pixFmt, bpp = "rgb24", 3
	}
	args := append([]string{}, ffArgs...)
	args = append(args,
		"-flags", "+bitexact", // decoder: the same output on every CPU
		"-i", fileArg(path),
		"-map", "0:"+strconv.Itoa(info.videoStream),
		// The explicit size keeps the frame size constant even if the
		// stream changes resolution midway: the pipe carries bare pixels,
		// so a size change would misalign every later frame.
		"-vf", fmt.Sprintf("scale=w=%d:h=%d:%s,format=%s", info.Width, info.Height, swsExact, pixFmt),
		// Every decoded frame once, in order: no duplicates or drops to
		// force a constant rate.
		"-fps_mode", "passthrough",
		"-f", "rawvideo", "-pix_fmt", pixFmt, "pipe:1")

	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, newError("open video", path, err, "")
	}
	rctx, cancel := context.WithCancel(ctx)
	cmd, tail := command(rctx, bin, args...)
	// An *os.File as Stdout goes to ffmpeg directly; exec's own pipe would
	// be closed by Wait and lose frames still buffered in it.
	cmd.Stdout = pw
	if err := cmd.Start(); err != nil {
		cancel()
		pr.Close()
		pw.Close()
		return nil, newError("open video", path, err, "")
	}
	pw.Close()
	r := &Reader{
		info: info, ctx: ctx, cancel: cancel, cmd: cmd, stderr: tail, pipe: pr,
		frameSize: info.Width * info.Height * bpp, rgb24: rgb24,
	}
	return r, nil
}

// Info is the probe result of the video being read.
func (r *Reader) Info() *Info { return r.info }

// NewFrame allocates a frame of the video's size for Read to fill.
func (r *Reader) NewFrame() *image.RGBA {
	return image.NewRGBA(image.Rect(0, 0, r.info.Width, r.info.Height))
}

// FramesRead is the number of frames Read has delivered so far, which is
// also the index of the next frame.
func (r *Reader) FramesRead() int { return r.n }

// Read decodes the next frame into dst, which must have the video's size
// (NewFrame); reusing one dst for every frame avoids any allocation. At the
// end Read returns io.EOF; after a failure it keeps returning that failure.
func (r *Reader) Read(dst *image.RGBA) error {
	if r.err != nil {
		return r.err
	}
	if r.closed {
		return newError("read frame", r.info.Path, os.ErrClosed, "")
	}
	w, h := r.info.Width, r.info.Height
	if dst == nil || dst.Rect.Dx() != w || dst.Rect.Dy() != h {
		size := "nil"
		if dst != nil {
			size = fmt.Sprintf("%dx%d", dst.Rect.Dx(), dst.Rect.Dy())
		}
		return newError("read frame", r.info.Path, ErrInvalid,
			fmt.Sprintf("frame is %s, video is %dx%d; allocate it with NewFrame", size, w, h))
	}
	// Fast path: a tightly packed RGBA frame is exactly ffmpeg's output
	// layout, so the pixels go from the pipe into dst with no copy.
	direct := !r.rgb24 && dst.Stride == 4*w
	var buf []byte
	if direct {
		off := dst.PixOffset(dst.Rect.Min.X, dst.Rect.Min.Y)
		buf = dst.Pix[off : off+r.frameSize]
	} else {
		if r.buf == nil {
			r.buf = make([]byte, r.frameSize)
		}
		buf = r.buf
	}
	if _, err := io.ReadFull(r.pipe, buf); err != nil {
		r.err = r.finish(err)
		return r.err
	}
	if !direct {
		r.unpack(dst, buf)
	}
	r.n++
	return nil
}

// unpack copies a staged frame into dst row by row, expanding rgb24.
func (r *Reader) unpack(dst *image.RGBA, buf []byte) {
	w, h := r.info.Width, r.info.Height
	for y := range h {
		row := dst.Pix[dst.PixOffset(dst.Rect.Min.X, dst.Rect.Min.Y+y):][:4*w]
		if !r.rgb24 {
			copy(row, buf[y*4*w:(y+1)*4*w])
			continue
		}
		src := buf[y*3*w : (y+1)*3*w]
		for x := range w {
			row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = src[3*x], src[3*x+1], src[3*x+2], 0xff
		}
	}
}

// finish turns the end of ffmpeg's output into io.EOF or into the reason
// the output ended early.
func (r *Reader) finish(readErr error) error {
	waitErr := r.wait()
	path := r.info.Path
	if r.ctx.Err() != nil {
		return newError("read frame", path, r.ctx.Err(), "")
	}
	stderr := lastLine(r.stderr.String(), fileArg(path))
	if readErr == io.ErrUnexpectedEOF {
		return newError("read frame", path, ErrCorrupt,
			fmt.Sprintf("output ended inside frame %d; ffmpeg: %s", r.n, stderr))
	}
	// ffmpeg skips undecodable data and exits 0, so damage shows as fewer
	// frames than the container promised plus complaints on stderr. Either
	// alone is not damage: nb_frames can be off for edited files, and
	// ffmpeg reports harmless glitches in good files.
	if stderr != "" && r.n < r.info.Frames {
		return newError("read frame", path, ErrCorrupt,
			fmt.Sprintf("decoded %d of %d frames; ffmpeg: %s", r.n, r.info.Frames, stderr))
	}
	if waitErr != nil {
		if stderr == "" {
			stderr = waitErr.Error()
		}
		return newError("read frame", path, ErrFFmpeg, stderr)
	}
	return io.EOF
}

func (r *Reader) wait() error {
	if r.waited {
		return nil
	}
	r.waited = true
	return r.cmd.Wait()
}

// Close stops decoding and releases the process. It returns the error that
// ended reading early (a damaged file, ffmpeg failing), nil after a clean
// io.EOF or when the caller simply stopped reading. Close is idempotent.
func (r *Reader) Close() error {
	if !r.closed {
		r.closed = true
		r.cancel() // kills ffmpeg if it is still decoding frames nobody will read
		r.wait()
		r.pipe.Close()
	}
	if r.err == io.EOF {
		return nil
	}
	return r.err
}

// ReadFrames decodes the first n frames of a video (n ≤ 0: all of them)
// into memory: for short clips, tests and previews, not whole films.
func ReadFrames(ctx context.Context, path string, n int) ([]*image.RGBA, error) {
	r, err := OpenVideo(ctx, path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []*image.RGBA
	for n <= 0 || len(out) < n {
		f := r.NewFrame()
		if err := r.Read(f); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return out, err
		}
		out = append(out, f)
	}
	return out, nil
}
