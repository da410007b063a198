package mark

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Metadata keys of a generated file's labels: CommentKey is the one every
// viewer shows (PNG "Comment" is the registered keyword, MP4 and JPEG
// "comment"), LabelKey a JSON record for programs.
const (
	CommentKey = "comment"
	LabelKey   = "facesynth"
)

// Label is the JSON record under LabelKey.
type Label struct {
	Synthetic bool   `json:"synthetic"`
	Tool      string `json:"tool"`      // "facesynth"
	Operation string `json:"operation"` // the command that made the file: "swap", "talk", "reenact", "mark"
	// The mark's payload, so a file whose metadata survives can be matched
	// with what the pixels say.
	WatermarkVersion uint8  `json:"watermark_version"`
	ContentID        string `json:"content_id"` // 8 hex digits
}

// Labels are the metadata a generated file carries besides its mark: a
// plain sentence and the JSON record. Pass them as media.WriterOptions.Metadata
// or to media.SaveImageMeta.
func Labels(p Payload, operation string) map[string]string {
	l := Label{Synthetic: true, Tool: "facesynth", Operation: operation,
		WatermarkVersion: p.Version, ContentID: fmt.Sprintf("%08x", p.ContentID)}
	b, _ := json.Marshal(l) // a struct of plain fields always marshals
	return map[string]string{
		CommentKey: fmt.Sprintf("synthetic: made with facesynth %s; invisible watermark %s", operation, p),
		LabelKey:   string(b),
	}
}

// ReadLabels finds facesynth's labels in a file's metadata (any case of
// the keys, as PNG writers capitalise "Comment"). ok is false when neither
// the JSON record nor a "synthetic:" comment is there; a comment alone
// gives a Label with only Synthetic set.
func ReadLabels(meta map[string]string) (l Label, ok bool) {
	for k, v := range meta {
		switch strings.ToLower(k) {
		case LabelKey:
			var rec Label
			if json.Unmarshal([]byte(v), &rec) == nil && rec.Tool != "" {
				return rec, true
			}
		case CommentKey:
			if strings.HasPrefix(strings.ToLower(strings.TrimSpace(v)), "synthetic:") {
				l, ok = Label{Synthetic: true}, true
			}
		}
	}
	return l, ok
}
