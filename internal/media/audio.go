package media

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/facesynth/facesynth/internal/fsutil"
)

// DefaultAudioRate is the sample rate speech models expect; a rate of 0
// given to ExtractAudio or ReadAudio means this.
const DefaultAudioRate = 16000

func checkRate(op, path string, rate int) (int, error) {
	if rate == 0 {
		return DefaultAudioRate, nil
	}
	if rate < 1000 || rate > 384000 {
		return 0, newError(op, path, ErrInvalid, fmt.Sprintf("sample rate %d Hz, want 1000..384000", rate))
	}
	return rate, nil
}

// audioInput probes a file that must have audio.
func audioInput(ctx context.Context, op, path string) (*Info, error) {
	info, err := Probe(ctx, path)
	if err != nil {
		return nil, err
	}
	if !info.HasAudio {
		return nil, newError(op, path, ErrNoAudio, "")
	}
	return info, nil
}

// onTimeline makes sample 0 of decoded audio time 0 of the file, where its
// first video frame is: an audio stream that starts later (delayed in the
// container, as muxers and editors do) is padded with silence, and one
// that starts earlier is trimmed. Without it, delayed audio would read as
// if it started with the picture, and lip sync would be judged wrong.
const onTimeline = "aresample=async=1:first_pts=0"

// ExtractAudio writes the first audio stream of in as a mono 16-bit WAV at
// rate Hz (0 means DefaultAudioRate), channels mixed down. A file without
// audio gives ErrNoAudio. The WAV appears at outWav only when complete.
func ExtractAudio(ctx context.Context, in, outWav string, rate int) error {
	const op = "extract audio"
	rate, err := checkRate(op, in, rate)
	if err != nil {
		return err
	}
	if _, err := audioInput(ctx, op, in); err != nil {
		return err
	}
	bin, err := tool("ffmpeg")
	if err != nil {
		return err
	}
	tmp, err := fsutil.CreateTemp(outWav)
	if err != nil {
		return newError(op, outWav, osErr(err), "")
	}
	defer tmp.Abort() // no-op after Commit
	args := append(append([]string{}, ffArgs...),
		"-i", fileArg(in), "-map", "0:a:0", "-vn", "-ac", "1", "-ar", strconv.Itoa(rate),
		"-af", onTimeline,
		// bitexact: a plain 44-byte header, no LIST chunk naming the encoder.
		"-c:a", "pcm_s16le", "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact",
		"-f", "wav", "-y", fileArg(tmp.Name()))
	if _, err := run(ctx, op, in, ErrFFmpeg, bin, args...); err != nil {
		return err
	}
	if err := tmp.Commit(); err != nil {
		return newError(op, outWav, osErr(err), "")
	}
	return nil
}

// ReadAudio decodes the first audio stream of path to mono samples in
// [-1, 1] at rate Hz (0 means DefaultAudioRate), channels mixed down. A file
// without audio gives ErrNoAudio.
func ReadAudio(ctx context.Context, path string, rate int) ([]float32, error) {
	const op = "read audio"
	rate, err := checkRate(op, path, rate)
	if err != nil {
		return nil, err
	}
	if _, err := audioInput(ctx, op, path); err != nil {
		return nil, err
	}
	bin, err := tool("ffmpeg")
	if err != nil {
		return nil, err
	}
	args := append(append([]string{}, ffArgs...),
		"-i", fileArg(path), "-map", "0:a:0", "-vn", "-ac", "1", "-ar", strconv.Itoa(rate),
		"-af", onTimeline,
		"-c:a", "pcm_f32le", "-f", "f32le", "pipe:1")
	raw, err := run(ctx, op, path, ErrCorrupt, bin, args...)
	if err != nil {
		return nil, err
	}
	samples := make([]float32, len(raw)/4)
	for i := range samples {
		v := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		// Resampling filters ring: a full-scale input can overshoot 1 a
		// little. Clamp so callers can rely on the range.
		samples[i] = max(-1, min(1, v))
	}
	return samples, nil
}

// WriteWAV writes mono samples (clamped to [-1, 1]) as a 16-bit PCM WAV at
// rate Hz, atomically.
func WriteWAV(path string, samples []float32, rate int) error {
	const op = "write wav"
	if rate <= 0 {
		return newError(op, path, ErrInvalid, fmt.Sprintf("sample rate %d Hz", rate))
	}
	dataBytes := 2 * len(samples)
	if dataBytes > math.MaxUint32-36 {
		return newError(op, path, ErrInvalid, fmt.Sprintf("%d samples do not fit a WAV file (4 GiB)", len(samples)))
	}
	buf := make([]byte, 44+dataBytes)
	le := binary.LittleEndian
	copy(buf[0:], "RIFF")
	le.PutUint32(buf[4:], uint32(36+dataBytes))
	copy(buf[8:], "WAVEfmt ")
	le.PutUint32(buf[16:], 16) // fmt chunk size
	le.PutUint16(buf[20:], 1)  // PCM
	le.PutUint16(buf[22:], 1)  // mono
	le.PutUint32(buf[24:], uint32(rate))
	le.PutUint32(buf[28:], uint32(2*rate)) // bytes per second
	le.PutUint16(buf[32:], 2)              // bytes per frame
	le.PutUint16(buf[34:], 16)             // bits per sample
	copy(buf[36:], "data")
	le.PutUint32(buf[40:], uint32(dataBytes))
	for i, s := range samples {
		v := float64(s)
		if math.IsNaN(v) {
			v = 0
		}
		le.PutUint16(buf[44+2*i:], uint16(int16(math.Round(max(-1, min(1, v))*32767))))
	}
	if err := fsutil.WriteFile(path, buf, 0o666); err != nil {
		return newError(op, path, osErr(err), "")
	}
	return nil
}

// Mux combines the first video stream of video (copied, not re-encoded)
// with the first audio stream of audio (encoded as AAC) into an MP4 at out.
// Neither stream is cut: the result lasts as long as the longer one. The
// output must end in .mp4, .m4v or .mov and appears only when complete.
// The video file's container tags (a generated video's labels) carry over.
func Mux(ctx context.Context, video, audio, out string) error {
	return MuxMeta(ctx, video, audio, out, nil)
}

// MuxMeta is Mux with container tags: meta is added to the tags the video
// file already has, replacing those of the same key.
func MuxMeta(ctx context.Context, video, audio, out string, meta map[string]string) error {
	const op = "mux"
	switch strings.ToLower(filepath.Ext(out)) {
	case ".mp4", ".m4v", ".mov":
	default:
		return newError(op, out, ErrFormat, "Mux makes MP4 files: name the output .mp4, .m4v or .mov")
	}
	if err := checkMeta(op, out, meta); err != nil {
		return err
	}
	vi, err := Probe(ctx, video)
	if err != nil {
		return err
	}
	// ffmpeg copies the first input's tags by itself, but the MP4 muxer
	// keeps only the keys it knows unless told otherwise; passing them
	// explicitly with use_metadata_tags keeps all of them. The muxer's
	// own "encoder" tag is its business, and the MP4 brand tags are not
	// metadata at all.
	tags := map[string]string{}
	for k, v := range vi.Tags {
		switch k {
		case "major_brand", "minor_version", "compatible_brands", "encoder":
		default:
			if metaKey.MatchString(k) && checkMeta(op, out, map[string]string{k: v}) == nil {
				tags[k] = v
			}
		}
	}
	for k, v := range meta {
		tags[k] = v
	}
	if !vi.HasVideo {
		return newError(op, video, ErrNoVideo, "")
	}
	if _, err := audioInput(ctx, op, audio); err != nil {
		return err
	}
	bin, err := tool("ffmpeg")
	if err != nil {
		return err
	}
	tmp, err := fsutil.CreateTemp(out)
	if err != nil {
		return newError(op, out, osErr(err), "")
	}
	defer tmp.Abort()
	args := append(append([]string{}, ffArgs...),
		"-i", fileArg(video), "-i", fileArg(audio),
		"-map", "0:"+strconv.Itoa(vi.videoStream), "-map", "1:a:0",
		"-c:v", "copy", "-c:a", "aac", "-b:a", "192k")
	args = append(args, metadataArgs(tags)...)
	args = append(args, "-f", "mp4", "-y", fileArg(tmp.Name()))
	if _, err := run(ctx, op, out, ErrFFmpeg, bin, args...); err != nil {
		return err
	}
	if err := tmp.Commit(); err != nil {
		return newError(op, out, osErr(err), "")
	}
	return nil
}
