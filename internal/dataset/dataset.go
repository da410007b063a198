// Package dataset turns talking-face videos with a soundtrack into aligned
// training samples for the speech-driven models (the lip-sync scorer in
// package syncnet, the talking-head GAN): per video a folder with the
// tracked face's aligned crops, a grey mouth image per frame, the speech at
// 16 kHz, and a manifest.
//
// Layout of a dataset folder DS, one sub-folder per video:
//
//	DS/<name>/sample.json      Manifest: source, fps, frame count, files below
//	DS/<name>/alignments.json  package extract's alignments (landmarks, transforms)
//	DS/<name>/faces/           aligned FaceSize×FaceSize face crops (extract's files)
//	DS/<name>/mouths.png       grey strip of every frame's mouth, MouthRect-sized, top to bottom
//	DS/<name>/audio.wav        the soundtrack, mono 16-bit PCM at AudioRate
//
// A sample is built in DS/.<name>.partial and renamed into place complete,
// sample.json last, so an interrupted build leaves no half sample behind and
// a rerun skips the videos that are done.
package dataset

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/facesynth/facesynth/internal/audio"
	"github.com/facesynth/facesynth/internal/extract"
	"github.com/facesynth/facesynth/internal/fsutil"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/progress"
)

// AudioRate is the sample rate of a dataset's audio: the speech band, and
// what the speech front end (package audio, pocketsphinx) works at.
const AudioRate = 16000

// ManifestName is a sample's manifest file; its presence marks the sample
// complete.
const ManifestName = "sample.json"

// Manifest is DS/<name>/sample.json. File names are relative to the
// sample's folder.
type Manifest struct {
	Version      int     `json:"version"`
	Source       string  `json:"source"` // the video, as an absolute path
	FPS          float64 `json:"fps"`
	Frames       int     `json:"frames"` // frames decoded; frame i is shown at i/FPS s
	Width        int     `json:"width"`
	Height       int     `json:"height"`
	Track        int     `json:"track"`      // extract's id of the face the sample follows (the one seen longest)
	FaceSize     int     `json:"face_size"`  // side of the crops in faces/
	Alignments   string  `json:"alignments"` // extract's alignments file
	Audio        string  `json:"audio"`
	AudioRate    int     `json:"audio_rate"`
	AudioSamples int     `json:"audio_samples"`
	Mouths       string  `json:"mouths"` // frame i's mouth is rows [i·MouthHeight, (i+1)·MouthHeight)
	MouthWidth   int     `json:"mouth_width"`
	MouthHeight  int     `json:"mouth_height"`
	// NoFace lists the frames where the tracked face was not found; their
	// mouth rows are black and no face crop exists.
	NoFace []int `json:"no_face"`
}

const manifestVersion = 1

// Sample is one built video: its folder and manifest.
type Sample struct {
	Dir  string
	Name string
	Manifest
}

// Options control a build.
type Options struct {
	DetectEvery int // run the face detector every N frames, tracking in between (default 10)
}

// Summary is what Build did.
type Summary struct {
	Built, Skipped int
	Frames         int // frames of the samples built in this run
	Samples        []string
}

func (s Summary) String() string {
	return fmt.Sprintf("%d samples built (%d frames), %d already done", s.Built, s.Frames, s.Skipped)
}

// Build makes a sample of every video in dir (see the package comment),
// skipping the videos whose sample is complete already. A video without a
// soundtrack or without a face stops the build with an error naming it;
// the samples finished before it stay.
func Build(ctx context.Context, videos []string, dir string, opts Options, rep progress.Reporter) (*Summary, error) {
	if len(videos) == 0 {
		return nil, errors.New("dataset: no videos given")
	}
	rep = progress.Of(rep)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	names, err := sampleNames(videos)
	if err != nil {
		return nil, err
	}
	sum := &Summary{}
	for i, v := range videos {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		rep.Report(i, len(videos), names[i])
		abs, _ := filepath.Abs(v)
		final := filepath.Join(dir, names[i])
		if m, err := readManifest(final); err == nil && m.Source == abs {
			sum.Skipped++
			sum.Samples = append(sum.Samples, final)
			continue
		}
		m, err := buildOne(ctx, abs, dir, names[i], opts)
		if err != nil {
			return sum, err
		}
		sum.Built++
		sum.Frames += m.Frames
		sum.Samples = append(sum.Samples, final)
	}
	rep.Report(len(videos), len(videos), "")
	rep.Done()
	return sum, nil
}

// sampleNames names each video's folder after the file; two videos with
// the same base name get a hash of their path added, so the names stay
// the same from run to run (resuming depends on it).
func sampleNames(videos []string) ([]string, error) {
	stems := map[string]int{}
	for _, v := range videos {
		stems[stem(v)]++
	}
	names := make([]string, len(videos))
	seen := map[string]bool{}
	for i, v := range videos {
		n := stem(v)
		if stems[n] > 1 {
			abs, _ := filepath.Abs(v)
			h := sha1.Sum([]byte(abs))
			n += "-" + hex.EncodeToString(h[:4])
		}
		if seen[n] {
			return nil, fmt.Errorf("dataset: %s is given twice", v)
		}
		seen[n] = true
		names[i] = n
	}
	return names, nil
}

func stem(path string) string {
	b := filepath.Base(path)
	b = strings.TrimSuffix(b, filepath.Ext(b))
	// Names become folder names; keep them tame (and never hidden, since
	// partial samples are the hidden ones).
	b = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r < ' ' {
			return '_'
		}
		return r
	}, b)
	return strings.TrimLeft(b, ".")
}

func buildOne(ctx context.Context, video, dir, name string, opts Options) (*Manifest, error) {
	info, err := media.Probe(ctx, video)
	if err != nil {
		return nil, err
	}
	if !info.HasVideo {
		return nil, fmt.Errorf("dataset: %s: no video stream", video)
	}
	if !info.HasAudio {
		return nil, fmt.Errorf("dataset: %s: no audio track (a sample needs the speech)", video)
	}
	tmp := filepath.Join(dir, "."+name+".partial")
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()

	if _, err := extract.Run(ctx, video, tmp, extract.Options{Size: FaceSize, Smooth: true, DetectEvery: opts.DetectEvery}, nil); err != nil {
		return nil, err
	}
	al, err := extract.ReadAlignments(filepath.Join(tmp, extract.FileName))
	if err != nil {
		return nil, err
	}
	track := mainTrack(al)
	if track < 0 {
		return nil, fmt.Errorf("dataset: %s: no face in any frame", video)
	}
	m := &Manifest{
		Version: manifestVersion, Source: video, FPS: al.FPS, Frames: len(al.Frames),
		Width: al.Width, Height: al.Height, Track: track, FaceSize: FaceSize,
		Alignments: extract.FileName, Audio: "audio.wav", AudioRate: AudioRate,
		Mouths: "mouths.png", MouthWidth: MouthRect.Dx(), MouthHeight: MouthRect.Dy(), NoFace: []int{},
	}
	if !(m.FPS > 0) {
		return nil, fmt.Errorf("dataset: %s: unknown frame rate", video)
	}
	if err := media.ExtractAudio(ctx, video, filepath.Join(tmp, m.Audio), AudioRate); err != nil {
		return nil, err
	}
	pcm, err := readWAV(filepath.Join(tmp, m.Audio))
	if err != nil {
		return nil, err
	}
	m.AudioSamples = len(pcm)

	strip := image.NewGray(image.Rect(0, 0, m.MouthWidth, m.MouthHeight*m.Frames))
	for i, fr := range al.Frames {
		if fr.Index != i {
			return nil, fmt.Errorf("dataset: %s: alignments skip from frame %d to %d", video, i, fr.Index)
		}
		file := ""
		for _, f := range fr.Faces {
			if f.Track == track {
				file = f.File
			}
		}
		if file == "" {
			m.NoFace = append(m.NoFace, i)
			continue
		}
		crop, err := media.LoadImage(filepath.Join(tmp, file))
		if err != nil {
			return nil, err
		}
		mouth := MouthFromCrop(crop)
		for y := 0; y < m.MouthHeight; y++ {
			copy(strip.Pix[(i*m.MouthHeight+y)*strip.Stride:], mouth.Pix[y*mouth.Stride:y*mouth.Stride+m.MouthWidth])
		}
	}
	if err := media.SaveImage(filepath.Join(tmp, m.Mouths), strip); err != nil {
		return nil, err
	}
	if err := writeManifest(tmp, m); err != nil {
		return nil, err
	}
	final := filepath.Join(dir, name)
	if err := os.RemoveAll(final); err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	ok = true
	return m, nil
}

// mainTrack is the id of the face seen in the most frames, or -1.
func mainTrack(al *extract.Alignments) int {
	count := map[int]int{}
	for _, fr := range al.Frames {
		for _, f := range fr.Faces {
			count[f.Track]++
		}
	}
	best, n := -1, 0
	for id, c := range count {
		if c > n || (c == n && id < best) {
			best, n = id, c
		}
	}
	return best
}

func writeManifest(dir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return fmt.Errorf("dataset: %w", err)
	}
	if err := fsutil.WriteFile(filepath.Join(dir, ManifestName), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("dataset: %w", err)
	}
	return nil
}

func readManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("dataset: %s: not a sample manifest: %w", dir, err)
	}
	if m.Version != manifestVersion {
		return nil, fmt.Errorf("dataset: %s: unsupported sample version %d", dir, m.Version)
	}
	if m.Frames < 1 || !(m.FPS > 0) || m.MouthWidth < 1 || m.MouthHeight < 1 || m.AudioRate < 1 {
		return nil, fmt.Errorf("dataset: %s: manifest has no frames, frame rate or sizes", dir)
	}
	return &m, nil
}

// ReadSample reads the sample in dir.
func ReadSample(dir string) (*Sample, error) {
	m, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	return &Sample{Dir: dir, Name: filepath.Base(dir), Manifest: *m}, nil
}

// Open lists the complete samples of a dataset folder, sorted by name.
func Open(dir string) ([]*Sample, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("dataset: %s: no such folder", dir)
		}
		return nil, fmt.Errorf("dataset: %w", err)
	}
	var out []*Sample
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		d := filepath.Join(dir, e.Name())
		if _, err := os.Stat(filepath.Join(d, ManifestName)); err != nil {
			continue
		}
		s, err := ReadSample(d)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("dataset: %s: no samples (build them with `facesynth dataset build`)", dir)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Mouths are the sample's mouth images, one per frame; nil for the frames
// in NoFace.
func (s *Sample) Mouths() ([]*image.Gray, error) {
	img, err := media.LoadImage(filepath.Join(s.Dir, s.Manifest.Mouths))
	if err != nil {
		return nil, err
	}
	w, h := s.MouthWidth, s.MouthHeight
	if img.Rect.Dx() != w || img.Rect.Dy() != h*s.Frames {
		return nil, fmt.Errorf("dataset: %s: mouth strip is %dx%d, want %dx%d", s.Dir, img.Rect.Dx(), img.Rect.Dy(), w, h*s.Frames)
	}
	missing := map[int]bool{}
	for _, i := range s.NoFace {
		missing[i] = true
	}
	out := make([]*image.Gray, s.Frames)
	for i := range out {
		if missing[i] {
			continue
		}
		g := image.NewGray(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			src := img.Pix[(i*h+y)*img.Stride:]
			for x := 0; x < w; x++ {
				g.Pix[y*g.Stride+x] = src[4*x] // the strip is grey: r = g = b
			}
		}
		out[i] = g
	}
	return out, nil
}

// Audio is the sample's soundtrack at AudioRate.
func (s *Sample) Audio() ([]float32, error) {
	return readWAV(filepath.Join(s.Dir, s.Manifest.Audio))
}

func readWAV(path string) ([]float32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	pcm, rate, err := audio.DecodeWAV(b)
	if err != nil {
		return nil, fmt.Errorf("dataset: %s: %w", path, err)
	}
	if rate != AudioRate {
		return nil, fmt.Errorf("dataset: %s: %d Hz, want %d", path, rate, AudioRate)
	}
	return pcm, nil
}
