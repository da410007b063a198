package studio

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/facesynth/facesynth/internal/testmedia"
)

func TestCheckAddr(t *testing.T) {
	for _, c := range []struct {
		addr        string
		allowRemote bool
		ok          bool
	}{
		{"127.0.0.1:7860", false, true},
		{"127.0.0.2:7860", false, true},
		{"localhost:7860", false, true},
		{"[::1]:7860", false, true},
		{":7860", false, false}, // every interface
		{"0.0.0.0:7860", false, false},
		{"[::]:7860", false, false},
		{"192.168.1.20:7860", false, false},
		{"studio.example.com:7860", false, false},
		{":7860", true, true},
		{"0.0.0.0:7860", true, true},
		{"192.168.1.20:7860", true, true},
		{"127.0.0.1", false, false}, // no port
		{"127.0.0.1:http-alt-nonsense", false, false},
	} {
		err := CheckAddr(c.addr, c.allowRemote)
		if (err == nil) != c.ok {
			t.Errorf("CheckAddr(%q, %v) = %v, want ok %v", c.addr, c.allowRemote, err, c.ok)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "studio: ") {
			t.Errorf("CheckAddr(%q): error without package prefix: %v", c.addr, err)
		}
	}
	err := CheckAddr("0.0.0.0:7860", false)
	if err == nil || !strings.Contains(err.Error(), "--allow-remote") {
		t.Errorf("a refused address should name the flag that allows it: %v", err)
	}
}

// No request reaches a file outside the studio's own: ids are checked
// against their pattern and looked up, file names come from a fixed set,
// and the static files are an embedded tree.
func TestPathTraversal(t *testing.T) {
	c := start(t, Config{Samples: mediaDir()})
	photo := c.upload("astronaut.png")
	// A job, so that valid job ids with bad file names are tried too.
	job := c.createJob(Spec{Kind: "verify", File: photo.ID})
	c.waitJob(job.ID, 60e9, "end", finished)
	// A secret beside the work folder that no request may read.
	secret := filepath.Join(filepath.Dir(c.s.Work()), "secret.txt")
	os.WriteFile(secret, []byte("TOP-SECRET"), 0o644)
	rel, _ := filepath.Rel(filepath.Join(c.s.Work(), "uploads"), secret)
	relEnc := strings.ReplaceAll(rel, "/", "%2F")

	paths := []string{
		"/api/uploads/../../../../../../etc/passwd",
		"/api/uploads/..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
		"/api/uploads/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
		"/api/uploads/%252e%252e%252fetc%252fpasswd",
		"/api/uploads/" + relEnc,
		"/api/uploads/" + photo.ID + "%2F..%2F..%2F..%2Fetc%2Fpasswd",
		"/api/uploads/" + photo.ID + ".json",
		"/api/jobs/..%2F..%2F..%2Fetc%2Fpasswd",
		"/api/jobs/..%2F..%2F..%2Fetc%2Fpasswd/result",
		"/api/jobs/" + job.ID + "/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
		"/api/jobs/" + job.ID + "/job.json",
		"/api/jobs/" + job.ID + "/result", // a verify job has no video
		"/api/jobs/" + job.ID + "/..%2Fjob.json",
		"/api/jobs/" + job.ID + "/preview.png", // not a swap
		"/static/../../../../etc/passwd",
		"/static/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
		"/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
		"/static/..%5c..%5c..%5cetc%5cpasswd",
		"/static/../studio.go",
		"/static/" + relEnc,
		"/../../../../etc/passwd",
		"/%2e%2e/%2e%2e/etc/passwd",
	}
	for _, p := range paths {
		res, body := c.do("GET", p, nil, nil)
		if loc := res.Header.Get("Location"); res.StatusCode/100 == 3 && strings.HasPrefix(loc, "/") {
			// The mux answers dotted paths with a redirect to the
			// cleaned path; follow it as a browser would.
			t.Logf("GET %s → %d %s", p, res.StatusCode, loc)
			p = loc
			res, body = c.do("GET", loc, nil, nil)
		}
		leaked := bytes.Contains(body, []byte("root:")) || bytes.Contains(body, []byte("TOP-SECRET")) ||
			bytes.Contains(body, []byte("package studio")) || bytes.Contains(body, []byte(`"spec"`))
		t.Logf("GET %s → %d", p, res.StatusCode)
		if leaked || res.StatusCode == http.StatusOK {
			t.Errorf("GET %s: %s, %d bytes: %.80q", p, res.Status, len(body), body)
		}
	}
	// Samples are looked up by name on a fixed list.
	for _, name := range []string{"..%2F..%2F..%2Fetc%2Fpasswd", "%2e%2e%2fastronaut.png", relEnc, "cascade"} {
		res, body := c.do("POST", "/api/samples/"+name, nil, nil)
		if res.StatusCode != http.StatusNotFound || bytes.Contains(body, []byte("root:")) {
			t.Errorf("POST /api/samples/%s: %s %s", name, res.Status, body)
		}
	}
	// The legitimate routes still work.
	if res, body := c.do("GET", "/api/uploads/"+photo.ID, nil, nil); res.StatusCode != 200 || len(body) != int(photo.Size) ||
		res.Header.Get("Content-Type") != "image/png" {
		t.Errorf("GET own upload: %s, %d bytes, %s", res.Status, len(body), res.Header.Get("Content-Type"))
	}
	if res, body := c.do("GET", "/static/app.js", nil, nil); res.StatusCode != 200 || !bytes.Contains(body, []byte("EventSource")) {
		t.Errorf("GET /static/app.js: %s", res.Status)
	}
	if res, _ := c.do("POST", "/api/samples/jfk.wav", nil, nil); res.StatusCode != http.StatusCreated {
		t.Errorf("POST /api/samples/jfk.wav: %s", res.Status)
	}
}

// An uploaded file's name is only shown; it never chooses where the file
// goes.
func TestUploadNameNeverAPath(t *testing.T) {
	c := start(t, Config{})
	data, _ := os.ReadFile(testmedia.Path(t, "astronaut.png"))
	for _, name := range []string{"../../../../tmp/evil.png", `..\..\evil.png`, "/etc/cron.d/evil.png", "..", "a\tb\u202egnp.exe.png"} {
		res, body := c.uploadBytes(name, data)
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("upload %q: %s %s", name, res.Status, body)
		}
		var u Upload
		json.Unmarshal(body, &u)
		if strings.ContainsAny(u.Name, "/\\\t\u202e") || u.Name == ".." || !idPattern.MatchString(u.ID) || u.Ext != ".png" {
			t.Errorf("upload %q: stored as %+v", name, u)
		}
	}
	for _, f := range files(t, c.s.Work()) {
		if !strings.HasPrefix(f, "uploads/") || !idPattern.MatchString(strings.TrimSuffix(strings.TrimSuffix(filepath.Base(f), ".png"), ".json")) {
			t.Errorf("unexpected file %s in the work folder", f)
		}
	}
	if _, err := os.Stat("/tmp/evil.png"); err == nil {
		t.Error("/tmp/evil.png exists")
	}
}

func TestOversizeUpload(t *testing.T) {
	const limit = 200 << 10
	c := start(t, Config{MaxUpload: limit})
	data, _ := os.ReadFile(testmedia.Path(t, "astronaut.png")) // 791 kB
	// With a Content-Length: refused before the body is read.
	res, body := c.uploadBytes("astronaut.png", data)
	if res.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "studio: upload: ") {
		t.Errorf("oversize upload: %s %s", res.Status, body)
	}
	// Streamed without a length: refused when the limit is crossed.
	mp, ct := form("file", "astronaut.png", data)
	req, _ := http.NewRequest("POST", c.base+"/api/uploads", io.NopCloser(mp)) // no length
	req.Header.Set("Content-Type", ct)
	req.Header.Set(TokenHeader, c.s.Token())
	res2, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := io.ReadAll(res2.Body)
	res2.Body.Close()
	if req.ContentLength != 0 || res2.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("streamed oversize upload (length %d): %s %s", req.ContentLength, res2.Status, b2)
	}
	if f := files(t, c.s.Work()); len(f) != 0 {
		t.Errorf("refused uploads left files: %v", f)
	}
	// Under the limit it goes through.
	small, _ := os.ReadFile(testmedia.Path(t, "face_swapped.png")) // 165 kB
	if res, body := c.uploadBytes("face_swapped.png", small); res.StatusCode != http.StatusCreated {
		t.Errorf("upload under the limit: %s %s", res.Status, body)
	}
}

func TestWrongContentType(t *testing.T) {
	c := start(t, Config{})
	wav, _ := os.ReadFile(testmedia.Path(t, "jfk.wav"))
	photo, _ := os.ReadFile(testmedia.Path(t, "astronaut.png"))
	brokenWav := append([]byte{}, wav[:12]...) // a WAV signature and nothing readable after it
	brokenWav = append(brokenWav, bytes.Repeat([]byte("junk"), 4096)...)
	for _, c2 := range []struct {
		name string
		data []byte
	}{
		{"photo.png", []byte("<!doctype html><script>alert(1)</script>")},
		{"speech.wav", []byte("just some text, not audio at all\n")},
		{"doc.pdf", []byte("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")},
		{"archive.zip", []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00")},
		{"photo.gif", []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00")},
		{"speech.wav", brokenWav},
		{"photo.png", photo[:60]}, // a PNG header cut short
		{"tiny.png", tinyPNG(t)},  // 4x4: no face fits
		{"script.mp4", []byte("#!/bin/sh\nrm -rf /\n")},
		{"empty.wav", nil},
	} {
		res, body := c.uploadBytes(c2.name, c2.data)
		t.Logf("%s (%d bytes) → %s %s", c2.name, len(c2.data), res.Status, bytes.TrimSpace(body))
		if res.StatusCode != http.StatusUnsupportedMediaType || !strings.HasPrefix(string(body), `{"error":"studio: upload: `) {
			t.Errorf("%s: %s %s", c2.name, res.Status, body)
		}
	}
	// A body that is not a multipart form.
	res, body := c.do("POST", "/api/uploads", bytes.NewReader(wav), map[string]string{"Content-Type": "audio/wav"})
	if res.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("raw body upload: %s %s", res.Status, body)
	}
	if f := files(t, c.s.Work()); len(f) != 0 {
		t.Errorf("refused uploads left files: %v", f)
	}
	// A sound file is not a photo: the job is refused, naming both.
	a := c.upload("jfk.wav")
	b, _ := json.Marshal(Spec{Kind: "talk", Photo: a.ID, Audio: a.ID})
	res, body = c.do("POST", "/api/jobs", bytes.NewReader(b), map[string]string{"Content-Type": "application/json"})
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "the photo must be image, and jfk.wav is an audio") {
		t.Errorf("talk with a WAV as photo: %s %s", res.Status, body)
	}
}

// tinyPNG is a valid PNG too small to hold a face.
func tinyPNG(t *testing.T) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCSRF(t *testing.T) {
	c := start(t, Config{})
	photo := c.upload("astronaut.png")
	spec, _ := json.Marshal(Spec{Kind: "verify", File: photo.ID})
	jsonHdr := func(extra map[string]string) map[string]string {
		h := map[string]string{"Content-Type": "application/json"}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	for _, c2 := range []struct {
		what   string
		method string
		path   string
		hdr    map[string]string
	}{
		{"no token", "POST", "/api/jobs", jsonHdr(map[string]string{TokenHeader: ""})},
		{"wrong token", "POST", "/api/jobs", jsonHdr(map[string]string{TokenHeader: strings.Repeat("0", 64)})},
		{"token in another case", "POST", "/api/jobs", jsonHdr(map[string]string{TokenHeader: strings.ToUpper(c.s.Token())})},
		{"cross-origin", "POST", "/api/jobs", jsonHdr(map[string]string{"Origin": "http://evil.example"})},
		{"cross-origin, same host other port", "POST", "/api/jobs", jsonHdr(map[string]string{"Origin": "http://127.0.0.1:1"})},
		{"cross-site fetch", "POST", "/api/jobs", jsonHdr(map[string]string{"Sec-Fetch-Site": "cross-site"})},
		{"delete without token", "DELETE", "/api/uploads/" + photo.ID, map[string]string{TokenHeader: ""}},
		{"upload without token", "POST", "/api/uploads", map[string]string{TokenHeader: "", "Content-Type": "multipart/form-data; boundary=x"}},
		{"rebound host name", "POST", "/api/jobs", jsonHdr(map[string]string{"Host": "evil.example:7860"})},
		{"rebound host name, GET", "GET", "/api/state", map[string]string{"Host": "evil.example"}},
		{"rebound host name, page", "GET", "/", map[string]string{"Host": "attacker.test:7860"}},
	} {
		res, body := c.do(c2.method, c2.path, bytes.NewReader(spec), c2.hdr)
		t.Logf("%s → %s %s", c2.what, res.Status, bytes.TrimSpace(body))
		if res.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "studio: ") {
			t.Errorf("%s: %s %s", c2.what, res.Status, body)
		}
	}
	// Nothing happened: no job, the upload is still there.
	st := c.s.snapshot()
	if len(st.Jobs) != 0 || len(st.Uploads) != 1 {
		t.Errorf("refused requests changed the state: %d jobs, %d uploads", len(st.Jobs), len(st.Uploads))
	}
	// The page carries the token; with it (and a same-origin Origin) the
	// request goes through.
	res, page := c.do("GET", "/", nil, nil)
	if res.StatusCode != 200 || !bytes.Contains(page, []byte(`<meta name="studio-token" content="`+c.s.Token()+`">`)) {
		t.Errorf("page: %s, token not embedded", res.Status)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("page headers: CSP %q, nosniff %q", csp, res.Header.Get("X-Content-Type-Options"))
	}
	res, body := c.do("POST", "/api/jobs", bytes.NewReader(spec), jsonHdr(map[string]string{"Origin": c.base, "Sec-Fetch-Site": "same-origin"}))
	if res.StatusCode != http.StatusCreated {
		t.Errorf("same-origin request with token: %s %s", res.Status, body)
	}
	// localhost and [::1] are loopback names too.
	for _, h := range []string{"localhost:7860", "[::1]:7860", "127.0.0.1"} {
		if res, _ := c.do("GET", "/api/state", nil, map[string]string{"Host": h}); res.StatusCode != 200 {
			t.Errorf("Host %s: %s", h, res.Status)
		}
	}
	// Two servers never share a token.
	if other := start(t, Config{}); other.s.Token() == c.s.Token() || len(c.s.Token()) != 64 {
		t.Errorf("tokens %q and %q", c.s.Token(), other.s.Token())
	}
}

// With AllowRemote any Host is served (a LAN name, a proxy), but
// state-changing requests still need the token.
func TestAllowRemoteStillNeedsToken(t *testing.T) {
	c := start(t, Config{AllowRemote: true})
	if res, _ := c.do("GET", "/api/state", nil, map[string]string{"Host": "studio.lan:7860"}); res.StatusCode != 200 {
		t.Errorf("GET with a LAN host name: %s", res.Status)
	}
	data, _ := os.ReadFile(testmedia.Path(t, "face_swapped.png"))
	body, ct := form("file", "f.png", data)
	res, _ := c.do("POST", "/api/uploads", body, map[string]string{"Host": "studio.lan:7860", "Content-Type": ct, TokenHeader: ""})
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("upload without token on a remote studio: %s", res.Status)
	}
}

// The API refuses specs that name the wrong things, before anything runs.
func TestJobSpecChecks(t *testing.T) {
	c := start(t, Config{})
	photo := c.upload("astronaut.png")
	audio := c.upload("jfk.wav")
	video := c.upload("cap13_edit2.mp4")
	if video.Kind != "video" || video.Width != 400 || video.Height != 300 || video.HasAudio {
		t.Errorf("video upload: %+v", video)
	}
	if audio.Kind != "audio" || audio.Duration < 10.9 || audio.Duration > 11.1 || photo.Width != 512 {
		t.Errorf("uploads: %+v %+v", audio, photo)
	}
	for _, c2 := range []struct {
		body string
		want string
	}{
		{`{"kind":"talk","photo":"` + photo.ID + `"}`, "give either an audio file or a text"},
		{`{"kind":"talk","photo":"` + photo.ID + `","audio":"` + audio.ID + `","text":"hi"}`, "give either an audio file or a text"},
		{`{"kind":"talk","photo":"` + photo.ID + `","audio":"` + audio.ID + `","emotion":"smug"}`, "unknown emotion"},
		{`{"kind":"talk","photo":"` + photo.ID + `","text":"` + strings.Repeat("a", maxText+1) + `"}`, "the limit is 2000"},
		{`{"kind":"talk","photo":"../../etc/passwd","text":"hi"}`, "is not an upload"},
		{`{"kind":"talk","photo":"` + photo.ID + `","audio":"` + video.ID + `"}`, "the audio must be audio or sound"},
		{`{"kind":"swap","source":"` + photo.ID + `","target":"` + photo.ID + `"}`, "the target must be video"},
		{`{"kind":"swap","source":"` + video.ID + `","target":"` + video.ID + `","quality":"ultra"}`, "quality is draft or full"},
		{`{"kind":"swap","source":"` + video.ID + `","target":"` + video.ID + `","minutes":-1}`, "training minutes -1"},
		{`{"kind":"reenact","driver":"` + photo.ID + `","target":"` + photo.ID + `"}`, "the driver must be video"},
		{`{"kind":"reenact","driver":"` + video.ID + `","target":"` + photo.ID + `","pose":"sideways"}`, "pose is target or driver"},
		{`{"kind":"verify","file":"` + audio.ID + `"}`, "the file must be image or video"},
		{`{"kind":"verify","file":"` + photo.ID + `","photo":"` + photo.ID + `"}`, "verify takes no photo"},
		{`{"kind":"mine","file":"` + photo.ID + `"}`, "unknown job kind"},
		{`{"kind":"verify","file":"` + photo.ID + `","path":"/etc/passwd"}`, "unknown field"},
		{`{"kind":"verify"} {"kind":"verify"}`, "more than one JSON value"},
	} {
		res, body := c.do("POST", "/api/jobs", strings.NewReader(c2.body), map[string]string{"Content-Type": "application/json"})
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), c2.want) || !strings.Contains(string(body), "studio: ") {
			t.Errorf("%.90s: %s %s (want %q)", c2.body, res.Status, body, c2.want)
		}
	}
	if n := len(c.s.snapshot().Jobs); n != 0 {
		t.Errorf("%d jobs made by refused specs", n)
	}
	// An upload used by a queued or running job cannot be deleted; others can.
	if res, _ := c.do("DELETE", "/api/uploads/"+video.ID, nil, nil); res.StatusCode != http.StatusNoContent {
		t.Errorf("delete unused upload: %s", res.Status)
	}
	if slices.ContainsFunc(files(t, c.s.Work()), func(f string) bool { return strings.Contains(f, video.ID) }) {
		t.Error("deleted upload left files")
	}
}
