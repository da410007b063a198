package media

import (
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/facesynth/facesynth/internal/testmedia"
)

// correlation is Pearson's r of a and b over their common length, with b
// shifted by lag samples.
func correlation(a, b []float32, lag int) float64 {
	var sa, sb, saa, sbb, sab, n float64
	for i := range a {
		j := i + lag
		if j < 0 || j >= len(b) {
			continue
		}
		x, y := float64(a[i]), float64(b[j])
		sa += x
		sb += y
		saa += x * x
		sbb += y * y
		sab += x * y
		n++
	}
	cov := sab/n - sa/n*sb/n
	return cov / math.Sqrt((saa/n-sa/n*sa/n)*(sbb/n-sb/n*sb/n))
}

// Mux jfk.wav into a short silent clip, extract it back at 16 kHz and
// compare with the original after the AAC round trip.
func TestMuxThenExtractAudio(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clip := filepath.Join(dir, "clip.mp4")
	w, err := CreateVideo(ctx, clip, 64, 48, WriterOptions{FPS: 25, Preset: "ultrafast"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := w.Write(gradient(64, 48, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	wav := testmedia.Path(t, "jfk.wav")
	muxed := filepath.Join(dir, "muxed.mp4")
	if err := Mux(ctx, clip, wav, muxed); err != nil {
		t.Fatal(err)
	}
	info, err := Probe(ctx, muxed)
	if err != nil {
		t.Fatal(err)
	}
	// Neither stream is cut: 2 s of video, 11 s of audio.
	if info.Frames != 50 || !info.HasAudio || info.AudioCodec != "aac" ||
		math.Abs(info.AudioDuration-11) > 0.02 || math.Abs(info.Duration-11) > 0.02 {
		t.Errorf("muxed: %d frames, audio %v %q %.3f s, file %.3f s; want 50 frames, aac 11 s, file 11 s",
			info.Frames, info.HasAudio, info.AudioCodec, info.AudioDuration, info.Duration)
	}

	back := filepath.Join(dir, "back.wav")
	if err := ExtractAudio(ctx, muxed, back, 16000); err != nil {
		t.Fatal(err)
	}
	got, err := ReadAudio(ctx, back, 16000)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ReadAudio(ctx, wav, 16000)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 176000 {
		t.Fatalf("jfk.wav read as %d samples, want 176000 (11 s at 16 kHz)", len(want))
	}
	if d := math.Abs(float64(len(got)-len(want))) / 16000; d > 0.05 {
		t.Errorf("extracted %d samples, original %d: %.3f s apart", len(got), len(want), d)
	}
	// The MP4 edit list removes the AAC encoder delay: best alignment at
	// lag 0 (searched within ±50 ms over the first 2 s of speech).
	r0 := correlation(want, got, 0)
	best, bestLag := r0, 0
	for lag := -800; lag <= 800; lag++ {
		if r := correlation(want[:32000], got, lag); r > best {
			best, bestLag = r, lag
		}
	}
	t.Logf("%d samples back; correlation %.5f at lag 0, best alignment at lag %d", len(got), r0, bestLag)
	if r0 < 0.95 {
		t.Errorf("correlation after the AAC round trip %.4f, want > 0.95", r0)
	}
	if bestLag != 0 {
		t.Errorf("audio shifted by %d samples", bestLag)
	}
	// The WAV is the plain 44-byte-header kind.
	if st, err := os.Stat(back); err != nil || st.Size() != 44+2*int64(len(got)) {
		t.Errorf("WAV size %v, want 44 + 2×%d", st.Size(), len(got))
	}
}

func TestWriteWAVReadBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tone.wav")
	const rate = 8000
	s := make([]float32, rate/2)
	for i := range s {
		s[i] = float32(0.5 * math.Sin(2*math.Pi*440*float64(i)/rate))
	}
	s[10], s[11] = 3, float32(math.NaN()) // clamped, zeroed
	if err := WriteWAV(path, s, rate); err != nil {
		t.Fatal(err)
	}
	info, err := Probe(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if info.AudioRate != rate || info.AudioChannels != 1 || info.AudioCodec != "pcm_s16le" || info.AudioDuration != 0.5 {
		t.Errorf("probe: %+v", *info)
	}
	got, err := ReadAudio(context.Background(), path, rate)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(s) {
		t.Fatalf("%d samples back, wrote %d", len(got), len(s))
	}
	s[10], s[11] = 1, 0
	for i := range s {
		if d := math.Abs(float64(got[i] - s[i])); d > 1.0/32767 {
			t.Fatalf("sample %d: %v back, wrote %v", i, got[i], s[i])
		}
	}
	// Resampling to 16 kHz doubles the count and keeps the range.
	up, err := ReadAudio(context.Background(), path, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(up) != 2*len(s) {
		t.Errorf("at 16 kHz: %d samples, want %d", len(up), 2*len(s))
	}
	for _, v := range up {
		if v < -1 || v > 1 {
			t.Fatalf("sample %v outside [-1, 1]", v)
		}
	}
	wantErr(t, WriteWAV(path, s, 0), ErrInvalid)
	_, err = ReadAudio(context.Background(), path, -5)
	wantErr(t, err, ErrInvalid)
}

// TestDelayedAudio reads a clip whose audio stream starts 0.5 s after its
// picture (as -itsoffset or an editor leaves it): the samples must keep
// that half second of silence, so sample 0 is the first frame's time.
func TestDelayedAudio(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	wav := testmedia.Path(t, "jfk.wav")
	delayed := filepath.Join(dir, "delayed.mp4")
	out, err := exec.Command("ffmpeg", "-nostdin", "-loglevel", "error",
		"-f", "lavfi", "-i", "color=c=gray:s=64x48:r=25:d=4",
		"-itsoffset", "0.5", "-i", wav, "-map", "0:v", "-map", "1:a", "-t", "4",
		"-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-y", delayed).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	const rate = 16000
	got, err := ReadAudio(ctx, delayed, rate)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ReadAudio(ctx, wav, rate)
	if err != nil {
		t.Fatal(err)
	}
	// The lag of the best match between the two, searched over ±1 s.
	best, bestR := 0, -1.0
	for lag := -rate; lag <= rate; lag += rate / 100 {
		if r := correlation(want[:3*rate], got, lag); r > bestR {
			best, bestR = lag, r
		}
	}
	t.Logf("audio delayed 0.5 s in the container reads %.2f s late (r = %.2f)", float64(best)/rate, bestR)
	if math.Abs(float64(best)/rate-0.5) > 0.03 || bestR < 0.8 {
		t.Errorf("read %.2f s late (r = %.2f), want 0.50 s", float64(best)/rate, bestR)
	}
	wavOut := filepath.Join(dir, "extracted.wav")
	if err := ExtractAudio(ctx, delayed, wavOut, rate); err != nil {
		t.Fatal(err)
	}
	ext, err := ReadAudio(ctx, wavOut, rate)
	if err != nil {
		t.Fatal(err)
	}
	if r := correlation(got, ext, 0); r < 0.99 {
		t.Errorf("ExtractAudio disagrees with ReadAudio on the delayed clip: r = %.3f at lag 0", r)
	}
}
