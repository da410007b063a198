package studio

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // DecodeConfig of uploaded photos
	_ "image/png"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/facesynth/facesynth/internal/fsutil"
	"github.com/facesynth/facesynth/internal/media"
)

// maxImagePixels is the largest photo accepted (media.LoadImage's limit).
const maxImagePixels = media.MaxImagePixels

// errTooLarge and errBadType pick the status of a refused upload.
var (
	errTooLarge = errors.New("too large")
	errBadType  = errors.New("unsupported type")
)

// uploadError is a refused upload: a message for the page and a status.
type uploadError struct {
	kind error
	msg  string
}

func (e *uploadError) Error() string { return e.msg }
func (e *uploadError) Unwrap() error { return e.kind }

func refuse(kind error, format string, a ...any) error {
	return &uploadError{kind, fmt.Sprintf(format, a...)}
}

// handleUpload takes one file from a multipart form (field "file").
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		httpError(w, http.StatusUnsupportedMediaType, "studio: upload: want a multipart/form-data body")
		return
	}
	// The form around the file adds a few hundred bytes; a body larger
	// than the file limit plus that is refused before it is read.
	limit := s.cfg.MaxUpload + 64<<10
	if r.ContentLength > limit {
		httpError(w, http.StatusRequestEntityTooLarge, "studio: upload: %s is larger than the limit of %s",
			sizeText(r.ContentLength), sizeText(s.cfg.MaxUpload))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	mr, err := r.MultipartReader()
	if err != nil {
		httpError(w, http.StatusBadRequest, "studio: upload: %v", err)
		return
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			httpError(w, http.StatusBadRequest, "studio: upload: no \"file\" field in the form")
			return
		}
		if err != nil {
			s.uploadFailed(w, err)
			return
		}
		if part.FormName() != "file" {
			part.Close()
			continue
		}
		u, err := s.ingest(r.Context(), part, part.FileName())
		part.Close()
		if err != nil {
			s.uploadFailed(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, u)
		return
	}
}

func (s *Server) uploadFailed(w http.ResponseWriter, err error) {
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, errTooLarge) || errors.As(err, &mbe):
		httpError(w, http.StatusRequestEntityTooLarge, "studio: upload: larger than the limit of %s", sizeText(s.cfg.MaxUpload))
	case errors.Is(err, errBadType):
		httpError(w, http.StatusUnsupportedMediaType, "studio: upload: %v", err)
	default:
		httpError(w, http.StatusBadRequest, "studio: upload: %v", err)
	}
}

// handleSample adds one of the sample files by name, through the same
// checks as an upload. Only names on the fixed list are looked up.
func (s *Server) handleSample(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !slices.Contains(s.samples(), name) {
		httpError(w, http.StatusNotFound, "studio: no sample %q", name)
		return
	}
	f, err := os.Open(filepath.Join(s.cfg.Samples, name))
	if err != nil {
		httpError(w, http.StatusNotFound, "studio: no sample %q", name)
		return
	}
	defer f.Close()
	u, err := s.ingest(r.Context(), f, name)
	if err != nil {
		s.uploadFailed(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, u)
}

// ingest stores the file read from r under a new id after checking what
// it is: PNG and JPEG photos by their signature and header, audio and
// video by their signature and then by ffprobe. Anything else is refused
// and leaves nothing behind.
func (s *Server) ingest(ctx context.Context, r io.Reader, clientName string) (*Upload, error) {
	head := make([]byte, 512)
	n, err := io.ReadFull(r, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, err
	}
	head = head[:n]
	if n == 0 {
		return nil, refuse(errBadType, "the file is empty")
	}
	sniffed := http.DetectContentType(head)
	kind, ext, ok := classify(sniffed)
	if !ok {
		return nil, refuse(errBadType, "%s files are not accepted (want a PNG or JPEG photo, audio or video)", sniffed)
	}
	id := newID()
	f, err := fsutil.CreateTemp(filepath.Join(s.cfg.Work, "uploads", id+ext))
	if err != nil {
		return nil, err
	}
	defer f.Abort() // no-op after Commit
	size, err := io.Copy(f, io.MultiReader(bytes.NewReader(head), io.LimitReader(r, s.cfg.MaxUpload+1-int64(n))))
	if err != nil {
		return nil, err
	}
	if size > s.cfg.MaxUpload {
		return nil, refuse(errTooLarge, "larger than the limit of %s", sizeText(s.cfg.MaxUpload))
	}
	u := &Upload{ID: id, Name: displayName(clientName), Kind: kind, Type: sniffed, Ext: ext, Size: size, Created: time.Now().UTC()}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if kind == "image" {
		cfg, _, err := image.DecodeConfig(f)
		if err != nil {
			return nil, refuse(errBadType, "not a readable PNG or JPEG image: %v", err)
		}
		if int64(cfg.Width)*int64(cfg.Height) > maxImagePixels || cfg.Width < 16 || cfg.Height < 16 {
			return nil, refuse(errBadType, "a %dx%d image is not accepted (16 to %d megapixels)", cfg.Width, cfg.Height, maxImagePixels/1_000_000)
		}
		// The header alone says nothing of the pixels: decode them, so a
		// cut or damaged photo is refused now rather than failing a job.
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		if _, _, err := image.Decode(bufio.NewReader(f)); err != nil {
			return nil, refuse(errBadType, "not a readable PNG or JPEG image: %v", err)
		}
		u.Width, u.Height = cfg.Width, cfg.Height
	} else {
		// The signature only says what the file claims to be; ffprobe
		// says whether it is media facesynth can read.
		info, err := media.Probe(ctx, f.Name())
		if err != nil {
			return nil, refuse(errBadType, "not readable audio or video")
		}
		switch {
		case info.HasVideo && info.Frames > 1:
			u.Kind, u.Width, u.Height, u.Duration = "video", info.Width, info.Height, info.VideoDuration
			u.Type = videoType(ext)
		case info.HasAudio:
			u.Kind, u.Duration, u.Width, u.Height = "audio", info.AudioDuration, 0, 0
			u.Type = audioType(ext)
		default:
			return nil, refuse(errBadType, "neither audio nor a video with frames")
		}
		u.HasAudio = info.HasAudio
	}
	if err := f.Commit(); err != nil {
		return nil, err
	}
	meta, _ := json.MarshalIndent(u, "", "  ")
	if err := fsutil.WriteFile(s.uploadMeta(id), meta, 0o644); err != nil {
		os.Remove(s.uploadPath(u))
		return nil, err
	}
	s.mu.Lock()
	s.uploads[id] = u
	s.touchList()
	s.mu.Unlock()
	return u, nil
}

// classify maps a sniffed MIME type to the kind of upload it may be and
// the extension it is stored with. Audio and video are told apart later,
// by ffprobe; "application/octet-stream" is let through to it because
// several containers (MOV, MPEG-TS) have no signature DetectContentType
// knows.
func classify(sniffed string) (kind, ext string, ok bool) {
	switch sniffed {
	case "image/png":
		return "image", ".png", true
	case "image/jpeg":
		return "image", ".jpg", true
	case "audio/wave":
		return "audio", ".wav", true
	case "audio/mpeg":
		return "audio", ".mp3", true
	case "audio/aiff":
		return "audio", ".aiff", true
	case "application/ogg":
		return "audio", ".ogg", true
	case "video/mp4":
		return "video", ".mp4", true
	case "video/webm":
		return "video", ".mkv", true
	case "video/avi":
		return "video", ".avi", true
	case "application/octet-stream":
		return "video", ".media", true
	}
	return "", "", false
}

func videoType(ext string) string {
	switch ext {
	case ".mp4":
		return "video/mp4"
	case ".mkv":
		return "video/webm"
	case ".avi":
		return "video/x-msvideo"
	}
	return "application/octet-stream"
}

func audioType(ext string) string {
	switch ext {
	case ".wav":
		return "audio/wav"
	case ".mp3":
		return "audio/mpeg"
	case ".ogg":
		return "audio/ogg"
	case ".aiff":
		return "audio/aiff"
	case ".mp4":
		return "audio/mp4"
	}
	return "application/octet-stream"
}

// displayName keeps the base of a client's file name for the page, with
// control characters removed; it never becomes a path.
func displayName(name string) string {
	name = strings.ReplaceAll(name, `\`, "/")
	name = name[strings.LastIndexByte(name, '/')+1:]
	name = strings.Map(func(r rune) rune {
		// Control and format characters (a right-to-left override can
		// make "gnp.exe" read "exe.png") are dropped.
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, name)
	if len(name) > 120 {
		name = name[:120]
		for !utf8.ValidString(name) {
			name = name[:len(name)-1]
		}
	}
	if name == "" || name == "." || name == ".." {
		name = "upload"
	}
	return name
}

func sizeText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// lookupUpload finds an upload by the id in the request's path.
func (s *Server) lookupUpload(w http.ResponseWriter, r *http.Request) *Upload {
	id := r.PathValue("id")
	s.mu.Lock()
	u, ok := s.uploads[id]
	s.mu.Unlock()
	if !idPattern.MatchString(id) || !ok {
		httpError(w, http.StatusNotFound, "studio: no upload %q", id)
		return nil
	}
	return u
}

func (s *Server) handleUploadFile(w http.ResponseWriter, r *http.Request) {
	if u := s.lookupUpload(w, r); u != nil {
		serveFile(w, r, s.uploadPath(u), u.Type)
	}
}

// handleUploadDelete removes an upload that no queued or running job uses.
func (s *Server) handleUploadDelete(w http.ResponseWriter, r *http.Request) {
	u := s.lookupUpload(w, r)
	if u == nil {
		return
	}
	s.mu.Lock()
	for _, j := range s.jobs {
		if (j.State == Queued || j.State == Running) && slices.Contains(j.Spec.inputs(), u.ID) {
			s.mu.Unlock()
			httpError(w, http.StatusConflict, "studio: upload %s is an input of job %s, which is %s", u.ID, j.ID, j.State)
			return
		}
	}
	delete(s.uploads, u.ID)
	s.touchList()
	s.mu.Unlock()
	os.Remove(s.uploadPath(u))
	os.Remove(s.uploadMeta(u.ID))
	w.WriteHeader(http.StatusNoContent)
}
