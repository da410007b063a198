package studio

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/facesynth/facesynth/internal/assets"
	"github.com/facesynth/facesynth/internal/testmedia"
)

// client talks to a studio under test over real HTTP.
type client struct {
	t    testing.TB
	s    *Server
	base string
	hc   *http.Client
}

// start runs a studio on a loopback port for the test's lifetime.
func start(t testing.TB, cfg Config) *client {
	t.Helper()
	if cfg.Work == "" {
		cfg.Work = t.TempDir()
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	t.Cleanup(func() { s.Close() }) // first: it ends the event streams ts.Close waits for
	return &client{t: t, s: s, base: ts.URL, hc: &http.Client{
		Timeout:       2 * time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// do sends a request with the server's token (unless hdr sets the token
// header, "" meaning none) and returns the response and its body.
func (c *client) do(method, path string, body io.Reader, hdr map[string]string) (*http.Response, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set(TokenHeader, c.s.Token())
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return res, b
}

// form is a multipart body with one file field.
func form(field, name string, data []byte) (io.Reader, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fw, _ := w.CreateFormFile(field, name)
	fw.Write(data)
	w.Close()
	return &buf, w.FormDataContentType()
}

func (c *client) uploadBytes(name string, data []byte) (*http.Response, []byte) {
	c.t.Helper()
	body, ct := form("file", name, data)
	return c.do("POST", "/api/uploads", body, map[string]string{"Content-Type": ct})
}

// upload sends a sample-media file and returns its record.
func (c *client) upload(sample string) Upload {
	c.t.Helper()
	data, err := os.ReadFile(testmedia.Path(c.t, sample))
	if err != nil {
		c.t.Fatal(err)
	}
	res, b := c.uploadBytes(sample, data)
	if res.StatusCode != http.StatusCreated {
		c.t.Fatalf("upload %s: %s: %s", sample, res.Status, b)
	}
	var u Upload
	if err := json.Unmarshal(b, &u); err != nil {
		c.t.Fatal(err)
	}
	return u
}

func (c *client) createJob(sp Spec) Job {
	c.t.Helper()
	b, _ := json.Marshal(sp)
	res, body := c.do("POST", "/api/jobs", bytes.NewReader(b), map[string]string{"Content-Type": "application/json"})
	if res.StatusCode != http.StatusCreated {
		c.t.Fatalf("create %s job: %s: %s", sp.Kind, res.Status, body)
	}
	var j Job
	if err := json.Unmarshal(body, &j); err != nil {
		c.t.Fatal(err)
	}
	return j
}

func (c *client) job(id string) Job {
	c.t.Helper()
	res, b := c.do("GET", "/api/jobs/"+id, nil, nil)
	if res.StatusCode != http.StatusOK {
		c.t.Fatalf("job %s: %s: %s", id, res.Status, b)
	}
	var j Job
	if err := json.Unmarshal(b, &j); err != nil {
		c.t.Fatal(err)
	}
	return j
}

// post sends a POST without a body (cancel, resume) and returns the status.
func (c *client) post(path string) int {
	c.t.Helper()
	res, _ := c.do("POST", path, nil, nil)
	return res.StatusCode
}

// waitJob polls a job until ok says so, failing the test after timeout.
func (c *client) waitJob(id string, timeout time.Duration, what string, ok func(Job) bool) Job {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		j := c.job(id)
		if ok(j) {
			return j
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("job %s: no %s after %v: state %s, progress %+v, error %q", id, what, timeout, j.State, j.Progress, j.Error)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func finished(j Job) bool { return j.State != Queued && j.State != Running }

// event is one server-sent event.
type event struct {
	name string
	data []byte
}

// stream opens the event stream; its events arrive on the channel until
// the returned function closes it.
func (c *client) stream() (<-chan event, func()) {
	c.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", c.base+"/api/events", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	if ct := res.Header.Get("Content-Type"); res.StatusCode != 200 || ct != "text/event-stream" {
		c.t.Fatalf("events: %s, %s", res.Status, ct)
	}
	ch := make(chan event, 1024)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(ch)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev event
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				ev.data = []byte(line[len("data: "):])
			case line == "" && ev.name != "":
				ch <- ev
				ev = event{}
			}
		}
	}()
	return ch, func() { cancel(); res.Body.Close(); wg.Wait() }
}

// nextState waits for the stream's next "state" event.
func nextState(t testing.TB, ch <-chan event) stateMsg {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("event stream ended")
			}
			if ev.name == "state" {
				var m stateMsg
				if err := json.Unmarshal(ev.data, &m); err != nil {
					t.Fatal(err)
				}
				return m
			}
		case <-timeout:
			t.Fatal("no state event in 30 s")
		}
	}
}

// holdAt makes jobs stop at frame n of their progress until release is
// closed (or their context ends), and reports on the returned channel
// when one gets there.
func holdAt(s *Server, n int, release <-chan struct{}) <-chan string {
	reached := make(chan string, 16)
	s.hold = func(ctx context.Context, id string, done, total int) {
		if done != n {
			return
		}
		reached <- id
		select {
		case <-release:
		case <-ctx.Done():
		}
	}
	return reached
}

func waitReached(t testing.TB, reached <-chan string, timeout time.Duration) string {
	t.Helper()
	select {
	case id := <-reached:
		return id
	case <-time.After(timeout):
		t.Fatalf("no job reached the hold point in %v", timeout)
	}
	return ""
}

// files lists every file under dir, relative, to show what a request left
// behind.
func files(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

func mediaDir() string { return assets.MediaDir() }
