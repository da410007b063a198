package media

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// Metadata labels travel with the files this package writes: text chunks in
// PNG, comment segments in JPEG, container tags in MP4. They say what made
// a file; they are not proof (anyone can strip or forge them), which is why
// facesynth also marks the pixels themselves (internal/mark).

// metaKey is what a metadata key may look like: ffmpeg takes "key=value"
// arguments and PNG keywords are at most 79 Latin-1 characters, so keys are
// kept to plain ASCII names.
var metaKey = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,78}$`)

// maxMetaValue bounds one value: a JPEG comment segment holds 65533 bytes,
// and a label is a sentence or a small JSON object.
const maxMetaValue = 60000

// checkMeta validates metadata keys and values for an operation on path.
func checkMeta(op, path string, meta map[string]string) error {
	for k, v := range meta {
		if !metaKey.MatchString(k) {
			return newError(op, path, ErrInvalid, fmt.Sprintf("metadata key %q: want a letter, then up to 78 letters, digits, '_', '.' or '-'", k))
		}
		if len(v) > maxMetaValue {
			return newError(op, path, ErrInvalid, fmt.Sprintf("metadata %q is %d bytes, the limit is %d", k, len(v), maxMetaValue))
		}
		if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			return newError(op, path, ErrInvalid, fmt.Sprintf("metadata %q is not UTF-8 text without NUL", k))
		}
	}
	return nil
}

// sortedKeys gives a deterministic order, so the same image and metadata
// make the same bytes.
func sortedKeys(meta map[string]string) []string {
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// pngTextChunks encodes metadata as PNG chunks: tEXt for ASCII values (read
// by every PNG tool), iTXt for anything else (tEXt is Latin-1 only).
func pngTextChunks(meta map[string]string) []byte {
	var out bytes.Buffer
	for _, k := range sortedKeys(meta) {
		v := meta[k]
		var data []byte
		typ := "tEXt"
		if isASCII(v) {
			data = append(append([]byte(k), 0), v...)
		} else {
			typ = "iTXt"
			// keyword, NUL, compression flag 0, method 0, empty language
			// tag, NUL, empty translated keyword, NUL, UTF-8 text
			data = append(append([]byte(k), 0, 0, 0, 0, 0), v...)
		}
		writePNGChunk(&out, typ, data)
	}
	return out.Bytes()
}

func writePNGChunk(w *bytes.Buffer, typ string, data []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)))
	w.Write(n[:])
	crc := crc32.NewIEEE() // PNG's CRC covers the type and the data
	crc.Write([]byte(typ))
	crc.Write(data)
	w.WriteString(typ)
	w.Write(data)
	binary.BigEndian.PutUint32(n[:], crc.Sum32())
	w.Write(n[:])
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// jpegComments encodes metadata as JPEG COM segments, one per key. A
// "comment" entry is written as its bare text, which is what image viewers
// show as the file's comment; other entries as "key=value".
func jpegComments(meta map[string]string) []byte {
	var out bytes.Buffer
	for _, k := range sortedKeys(meta) {
		text := k + "=" + meta[k]
		if strings.EqualFold(k, "comment") {
			text = meta[k]
		}
		out.Write([]byte{0xFF, 0xFE})
		var n [2]byte
		binary.BigEndian.PutUint16(n[:], uint16(len(text)+2)) // the length counts itself
		out.Write(n[:])
		out.WriteString(text)
	}
	return out.Bytes()
}

// insertWriter passes bytes through and writes extra once the first at
// bytes have gone by: the encoders write their header, the labels follow.
type insertWriter struct {
	w     io.Writer
	at    int
	extra []byte
	n     int
}

func (iw *insertWriter) Write(p []byte) (int, error) {
	total := len(p)
	if iw.extra != nil && iw.n+len(p) >= iw.at {
		head := iw.at - iw.n
		if _, err := iw.w.Write(p[:head]); err != nil {
			return 0, err
		}
		if _, err := iw.w.Write(iw.extra); err != nil {
			return 0, err
		}
		iw.extra = nil
		iw.n += head
		p = p[head:]
	}
	n, err := iw.w.Write(p)
	iw.n += n
	if err != nil {
		return total - len(p) + n, err
	}
	return total, nil
}

// Where the labels go: after the PNG signature (8 bytes) and IHDR chunk
// (25 bytes), which must come first; after the JPEG SOI marker (2 bytes).
const (
	pngHeaderLen  = 8 + 25
	jpegHeaderLen = 2
)

// ReadImageMeta returns the text labels of a PNG (tEXt, zTXt and iTXt
// chunks) or JPEG (COM segments; "key=value" comments by key, any other
// comment as "comment"). A file without labels gives an empty map.
func ReadImageMeta(path string) (map[string]string, error) {
	const op = "read image metadata"
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, newError(op, path, fs.ErrNotExist, "")
		}
		return nil, newError(op, path, osErr(err), "")
	}
	defer f.Close()
	r := bufio.NewReader(f)
	sig, err := r.Peek(8)
	switch {
	case len(sig) == 0:
		return nil, newError(op, path, ErrEmpty, "")
	case bytes.HasPrefix(sig, []byte("\x89PNG\r\n\x1a\n")):
		return readPNGText(op, path, r)
	case bytes.HasPrefix(sig, []byte{0xFF, 0xD8}):
		return readJPEGComments(op, path, r)
	}
	return nil, newError(op, path, ErrFormat, "not a PNG or JPEG image")
}

func readPNGText(op, path string, r *bufio.Reader) (map[string]string, error) {
	meta := map[string]string{}
	r.Discard(8)
	corrupt := func(detail string) error { return newError(op, path, ErrCorrupt, detail) }
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil, corrupt("PNG ends before IEND")
		}
		n, typ := binary.BigEndian.Uint32(hdr[:4]), string(hdr[4:])
		if n > 1<<31-1 {
			return nil, corrupt("PNG chunk length out of range")
		}
		switch typ {
		case "IEND":
			return meta, nil
		case "tEXt", "zTXt", "iTXt":
			if n > 16<<20 {
				return nil, corrupt(fmt.Sprintf("%s chunk of %d bytes", typ, n))
			}
			data := make([]byte, n)
			if _, err := io.ReadFull(r, data); err != nil {
				return nil, corrupt("PNG ends inside a " + typ + " chunk")
			}
			if k, v, ok := parsePNGText(typ, data); ok {
				meta[k] = v
			}
			n = 0
		}
		// Skip the chunk's (remaining) data and its CRC.
		if _, err := r.Discard(int(n) + 4); err != nil {
			return nil, corrupt("PNG ends inside a " + typ + " chunk")
		}
	}
}

// parsePNGText decodes one text chunk; ok is false for a malformed one,
// which is skipped rather than failing the whole file.
func parsePNGText(typ string, data []byte) (key, value string, ok bool) {
	k, rest, found := bytes.Cut(data, []byte{0})
	if !found || len(k) == 0 {
		return "", "", false
	}
	switch typ {
	case "tEXt":
		return string(k), latin1(rest), true
	case "zTXt":
		if len(rest) < 1 || rest[0] != 0 {
			return "", "", false
		}
		text, err := inflate(rest[1:])
		return string(k), latin1(text), err == nil
	default: // iTXt
		if len(rest) < 2 {
			return "", "", false
		}
		compressed, method := rest[0], rest[1]
		_, rest, found = bytes.Cut(rest[2:], []byte{0}) // language tag
		if !found {
			return "", "", false
		}
		_, text, found := bytes.Cut(rest, []byte{0}) // translated keyword
		if !found {
			return "", "", false
		}
		if compressed == 1 {
			if method != 0 {
				return "", "", false
			}
			var err error
			if text, err = inflate(text); err != nil {
				return "", "", false
			}
		}
		return string(k), string(text), utf8.Valid(text)
	}
}

// inflate decompresses zlib data, bounded so a crafted chunk cannot expand
// into gigabytes.
func inflate(b []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, 16<<20))
	return out, err
}

func latin1(b []byte) string {
	if isASCII(string(b)) {
		return string(b)
	}
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

func readJPEGComments(op, path string, r *bufio.Reader) (map[string]string, error) {
	meta := map[string]string{}
	r.Discard(2)
	corrupt := func(detail string) error { return newError(op, path, ErrCorrupt, detail) }
	for {
		b, err := r.ReadByte()
		if err != nil {
			return nil, corrupt("JPEG ends before its image data")
		}
		if b != 0xFF {
			return nil, corrupt("JPEG marker expected")
		}
		m, err := r.ReadByte()
		for err == nil && m == 0xFF { // fill bytes
			m, err = r.ReadByte()
		}
		if err != nil {
			return nil, corrupt("JPEG ends before its image data")
		}
		if m == 0xD8 || m >= 0xD0 && m <= 0xD7 || m == 0x01 {
			continue // markers without a length
		}
		if m == 0xDA || m == 0xD9 { // start of scan, end of image: no labels after
			return meta, nil
		}
		var n [2]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return nil, corrupt("JPEG ends inside a segment")
		}
		size := int(binary.BigEndian.Uint16(n[:])) - 2
		if size < 0 {
			return nil, corrupt("JPEG segment length out of range")
		}
		if m != 0xFE {
			if _, err := r.Discard(size); err != nil {
				return nil, corrupt("JPEG ends inside a segment")
			}
			continue
		}
		text := make([]byte, size)
		if _, err := io.ReadFull(r, text); err != nil {
			return nil, corrupt("JPEG ends inside a comment")
		}
		s := string(text)
		if !utf8.ValidString(s) {
			s = latin1(text)
		}
		if k, v, ok := strings.Cut(s, "="); ok && metaKey.MatchString(k) {
			meta[k] = v
		} else if old, dup := meta["comment"]; dup {
			meta["comment"] = old + "\n" + s
		} else {
			meta["comment"] = s
		}
	}
}
