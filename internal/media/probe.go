// Package media reads and writes video, audio and images for facesynth.
// Video and audio go through ffmpeg and ffprobe subprocesses (Debian package
// ffmpeg) with raw frames and samples over pipes, so any format ffmpeg knows
// works and no codec is linked into the binary; images (PNG, JPEG) use Go's
// decoders. Every subprocess is started with the caller's context and dies
// with it. Every file this package writes appears under its name only when
// complete (see internal/fsutil).
//
// Decoded video frames are bit-identical to the PNG frames that
// scripts/fetch-media.sh extracts (same swscale flags), so a frame read here
// and a reference image give a detector the very same pixels.
package media

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// Info describes a media file as ffprobe sees it.
type Info struct {
	Path   string
	Format string // ffprobe's format_name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"

	// Width and Height are the size of the decoded frames: the stream's
	// size turned by its rotation metadata, as ffmpeg turns the frames.
	Width, Height int
	FPS           float64 // average frame rate
	Frames        int     // frame count (nb_frames, or packets counted when the container lacks it)
	Duration      float64 // seconds, of the whole file (the longest stream)
	VideoDuration float64 // seconds; 0 without video
	AudioDuration float64 // seconds; 0 without audio

	HasVideo, HasAudio       bool
	AudioRate, AudioChannels int
	VideoCodec, AudioCodec   string

	// Tags are the container's metadata ("comment", "encoder", ...; for
	// MP4 also the brand entries ffprobe lists). Never nil.
	Tags map[string]string

	videoStream int // ffmpeg's index of the stream the Reader decodes
}

// probeTimeout bounds ffprobe's look at the headers. It reads a few
// megabytes at most, so this only ever fires on a file system that hangs.
const probeTimeout = 30 * time.Second

type probeStream struct {
	Index        int               `json:"index"`
	CodecType    string            `json:"codec_type"`
	CodecName    string            `json:"codec_name"`
	Width        int               `json:"width"`
	Height       int               `json:"height"`
	AvgFrameRate string            `json:"avg_frame_rate"`
	RFrameRate   string            `json:"r_frame_rate"`
	NbFrames     string            `json:"nb_frames"`
	NbPackets    string            `json:"nb_read_packets"`
	Duration     string            `json:"duration"`
	SampleRate   string            `json:"sample_rate"`
	Channels     int               `json:"channels"`
	Disposition  map[string]int    `json:"disposition"`
	Tags         map[string]string `json:"tags"`
	SideData     []struct {
		Rotation float64 `json:"rotation"`
	} `json:"side_data_list"`
}

type probeOutput struct {
	Streams []probeStream `json:"streams"`
	Format  struct {
		FormatName string            `json:"format_name"`
		Duration   string            `json:"duration"`
		Tags       map[string]string `json:"tags"`
	} `json:"format"`
}

// Probe reads a media file's streams. A missing file wraps fs.ErrNotExist;
// an empty one ErrEmpty; one that is not media ErrNotMedia; a media file
// whose headers are damaged (a truncated MP4 whose index was at the end)
// ErrCorrupt. A file ffmpeg can open but that has neither video nor audio is
// ErrNotMedia too.
func Probe(ctx context.Context, path string) (*Info, error) {
	const op = "probe"
	if err := checkInput(op, path); err != nil {
		return nil, err
	}
	bin, err := tool("ffprobe")
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	cmd, tail := command(pctx, bin, "-v", "error", "-hide_banner",
		"-print_format", "json", "-show_format", "-show_streams", fileArg(path))
	out, err := cmd.Output()
	if ctx.Err() != nil {
		return nil, newError(op, path, ctx.Err(), "")
	}
	if pctx.Err() != nil {
		return nil, newError(op, path, ErrFFmpeg, "ffprobe gave no answer in "+probeTimeout.String())
	}
	if err != nil {
		k := ErrNotMedia
		if looksLikeMedia(path) {
			k = ErrCorrupt
		}
		return nil, newError(op, path, k, lastLine(tail.String(), fileArg(path)))
	}
	var po probeOutput
	if err := json.Unmarshal(out, &po); err != nil {
		return nil, newError(op, path, ErrFFmpeg, "unreadable ffprobe output: "+err.Error())
	}
	info := &Info{Path: path, Format: po.Format.FormatName, Duration: parseFloat(po.Format.Duration),
		Tags: po.Format.Tags, videoStream: -1}
	if info.Tags == nil {
		info.Tags = map[string]string{}
	}
	var video *probeStream
	for i := range po.Streams {
		s := &po.Streams[i]
		switch s.CodecType {
		case "video":
			// Cover art in audio files is a one-picture "video" stream;
			// it is not the video a caller asks for.
			if video == nil && s.Disposition["attached_pic"] == 0 && s.Width > 0 && s.Height > 0 {
				video = s
			}
		case "audio":
			if !info.HasAudio {
				info.HasAudio = true
				info.AudioCodec = s.CodecName
				info.AudioRate, _ = strconv.Atoi(s.SampleRate)
				info.AudioChannels = s.Channels
				info.AudioDuration = parseFloat(s.Duration)
				if info.AudioDuration == 0 {
					info.AudioDuration = info.Duration
				}
			}
		}
	}
	if video != nil {
		info.HasVideo = true
		info.videoStream = video.Index
		info.VideoCodec = video.CodecName
		info.Width, info.Height = video.Width, video.Height
		if quarterTurn(video) {
			info.Width, info.Height = info.Height, info.Width
		}
		info.FPS = parseRate(video.AvgFrameRate)
		if info.FPS == 0 {
			info.FPS = parseRate(video.RFrameRate)
		}
		info.VideoDuration = parseFloat(video.Duration)
		if info.VideoDuration == 0 {
			info.VideoDuration = info.Duration
		}
		info.Frames, _ = strconv.Atoi(video.NbFrames)
		if info.Frames <= 0 {
			// Matroska, WebM, MPEG-TS and raw streams carry no frame
			// count. Counting packets only demuxes (no decoding), so it
			// is fast; for video, one packet is one frame.
			n, err := countPackets(ctx, bin, path, video.Index)
			if err != nil {
				return nil, err
			}
			info.Frames = n
		}
	}
	if !info.HasVideo && !info.HasAudio {
		return nil, newError(op, path, ErrNotMedia, "no video or audio stream")
	}
	return info, nil
}

func countPackets(ctx context.Context, bin, path string, stream int) (int, error) {
	out, err := run(ctx, "probe", path, ErrCorrupt, bin, "-v", "error", "-hide_banner",
		"-select_streams", strconv.Itoa(stream), "-count_packets",
		"-show_entries", "stream=nb_read_packets", "-print_format", "json", fileArg(path))
	if err != nil {
		return 0, err
	}
	var po probeOutput
	if err := json.Unmarshal(out, &po); err != nil || len(po.Streams) == 0 {
		return 0, newError("probe", path, ErrFFmpeg, "unreadable ffprobe packet count")
	}
	n, _ := strconv.Atoi(po.Streams[0].NbPackets)
	return n, nil
}

// quarterTurn reports rotation metadata of ±90° (display matrix side data,
// or the older "rotate" tag), which ffmpeg applies while decoding, so the
// frames come out with width and height swapped.
func quarterTurn(s *probeStream) bool {
	rot := 0.0
	for _, sd := range s.SideData {
		if sd.Rotation != 0 {
			rot = sd.Rotation
		}
	}
	if rot == 0 && s.Tags != nil {
		rot = parseFloat(s.Tags["rotate"])
	}
	r := int(math.Round(rot)) % 180
	return r == 90 || r == -90
}

func parseFloat(s string) float64 {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

// parseRate reads ffprobe's "num/den" rates; "0/0" (unknown) gives 0.
func parseRate(s string) float64 {
	num, den, ok := strings.Cut(s, "/")
	if !ok {
		return parseFloat(s)
	}
	n, d := parseFloat(num), parseFloat(den)
	if d == 0 {
		return 0
	}
	return n / d
}
