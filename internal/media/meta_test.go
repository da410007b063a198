package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/facesynth/facesynth/internal/testmedia"
)

var labels = map[string]string{
	"comment":   "synthetic: made with facesynth",
	"facesynth": `{"tool":"facesynth","version":1,"content_id":"0badc0de"}`,
	"Title":     "Gesicht, künstlich — ü", // non-ASCII: an iTXt chunk in PNG
}

// PNG labels come back exactly, sit right after IHDR with correct CRCs,
// and leave the pixels alone.
func TestPNGMetadataRoundTrip(t *testing.T) {
	src, err := LoadImage(testmedia.Path(t, "face_swapped.png"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "labelled.png")
	if err := SaveImageMeta(out, src, labels); err != nil {
		t.Fatal(err)
	}
	got, err := ReadImageMeta(out)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, labels) {
		t.Errorf("labels %q, want %q", got, labels)
	}
	back, err := LoadImage(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Pix, src.Pix) {
		t.Error("labelling changed the pixels")
	}
	// Walk the chunks: IHDR first, then our three text chunks, every CRC
	// right (Go's decoder checks them too, but only for chunks it reads).
	b, _ := os.ReadFile(out)
	var types []string
	for off := 8; off+12 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[off:]))
		typ := b[off+4 : off+8]
		crc := binary.BigEndian.Uint32(b[off+8+n:])
		if want := crc32.ChecksumIEEE(b[off+4 : off+8+n]); crc != want {
			t.Errorf("chunk %s: CRC %08x, want %08x", typ, crc, want)
		}
		types = append(types, string(typ))
		off += 12 + n
	}
	if len(types) < 5 || !reflect.DeepEqual(types[:4], []string{"IHDR", "iTXt", "tEXt", "tEXt"}) || types[len(types)-1] != "IEND" {
		t.Errorf("chunk order %v", types)
	}
}

func TestJPEGMetadataRoundTrip(t *testing.T) {
	src, err := LoadImage(testmedia.Path(t, "face_swapped.png"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	plain, labelled := filepath.Join(dir, "plain.jpg"), filepath.Join(dir, "labelled.jpg")
	if err := SaveImage(plain, src); err != nil {
		t.Fatal(err)
	}
	if err := SaveImageMeta(labelled, src, labels); err != nil {
		t.Fatal(err)
	}
	got, err := ReadImageMeta(labelled)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, labels) {
		t.Errorf("labels %q, want %q", got, labels)
	}
	a, err := LoadImage(plain)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadImage(labelled)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Pix, b.Pix) {
		t.Error("the comment segments changed the decoded pixels")
	}
	raw, _ := os.ReadFile(labelled)
	if !bytes.HasPrefix(raw, []byte{0xFF, 0xD8, 0xFF, 0xFE}) {
		t.Errorf("the first segment is % x, want a COM segment right after SOI", raw[:4])
	}
	if m, err := ReadImageMeta(plain); err != nil || len(m) != 0 {
		t.Errorf("unlabelled JPEG: %v, %v; want no labels", m, err)
	}
}

// A video written with Metadata reports it as Info.Tags; Mux keeps it and
// MuxMeta adds to it.
func TestMP4Metadata(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clip := filepath.Join(dir, "clip.mp4")
	w, err := CreateVideo(ctx, clip, 64, 48, WriterOptions{FPS: 25, Preset: "ultrafast", Metadata: labels})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := w.Write(gradient(64, 48, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	info, err := Probe(ctx, clip)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range labels {
		if info.Tags[k] != v {
			t.Errorf("written video: tag %s = %q, want %q", k, info.Tags[k], v)
		}
	}
	muxed := filepath.Join(dir, "muxed.mp4")
	if err := Mux(ctx, clip, testmedia.Path(t, "jfk.wav"), muxed); err != nil {
		t.Fatal(err)
	}
	extra := filepath.Join(dir, "extra.mp4")
	if err := MuxMeta(ctx, clip, testmedia.Path(t, "jfk.wav"), extra, map[string]string{"comment": "replaced", "voice": "jfk.wav"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		want map[string]string
	}{
		{muxed, labels},
		{extra, map[string]string{"comment": "replaced", "voice": "jfk.wav", "facesynth": labels["facesynth"], "Title": labels["Title"]}},
	} {
		info, err := Probe(ctx, c.path)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range c.want {
			if info.Tags[k] != v {
				t.Errorf("%s: tag %s = %q, want %q", filepath.Base(c.path), k, info.Tags[k], v)
			}
		}
	}
	// A plain sample video has tags too (the encoder's), never a nil map.
	if info, err := Probe(ctx, testmedia.Path(t, "cap13_edit2.mp4")); err != nil || info.Tags == nil || info.Tags["comment"] != "" {
		t.Errorf("unlabelled sample: tags %v, err %v", info.Tags, err)
	}
}

func TestMetadataBadInputs(t *testing.T) {
	dir := t.TempDir()
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	for _, meta := range []map[string]string{
		{"bad key": "x"}, {"": "x"}, {"k=v": "x"}, {"nul": "a\x00b"}, {"bin": "\xff\xfe"},
		{"big": string(make([]byte, maxMetaValue+1))},
	} {
		err := SaveImageMeta(filepath.Join(dir, "x.png"), img, meta)
		wantErr(t, err, ErrInvalid)
		_, err = CreateVideo(context.Background(), filepath.Join(dir, "x.mp4"), 16, 16, WriterOptions{FPS: 25, Metadata: meta})
		wantErr(t, err, ErrInvalid)
	}
	_, err := ReadImageMeta(filepath.Join(dir, "missing.png"))
	wantErr(t, err, os.ErrNotExist)
	_, err = ReadImageMeta(writeFile(t, "notes.png", []byte("hello, not an image")))
	wantErr(t, err, ErrFormat)
	_, err = ReadImageMeta(writeFile(t, "empty.png", nil))
	wantErr(t, err, ErrEmpty)
	b, _ := os.ReadFile(testmedia.Path(t, "astronaut.png"))
	_, err = ReadImageMeta(writeFile(t, "trunc.png", b[:len(b)/2]))
	wantErr(t, err, ErrCorrupt)
	// A real file's own label (scikit-image's astronaut.png, saved by
	// Photoshop) reads back as written.
	if m, err := ReadImageMeta(testmedia.Path(t, "astronaut.png")); err != nil || len(m) != 1 || m["Comment"] != "File written by Adobe Photoshop? 5.0" {
		t.Errorf("astronaut.png: %q, %v; want its one Comment chunk", m, err)
	}
}
