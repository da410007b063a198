package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// A non-loopback address needs --allow-remote: without it the command
// stops with a usage error before listening.
func TestStudioRefusesRemoteAddr(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:7860", ":7860", "192.168.1.20:7860", "example.com:7860"} {
		code, out, errs := run(t, "studio", "--addr", addr, "--work", t.TempDir())
		if code != 2 || out != "" || !strings.Contains(errs, "not a loopback address") || !strings.Contains(errs, "--allow-remote") {
			t.Errorf("studio --addr %s: exit %d, stdout %q, stderr %q", addr, code, out, errs)
		}
	}
	if code, _, errs := run(t, "studio", "--jobs", "0", "--work", t.TempDir()); code != 2 {
		t.Errorf("studio --jobs 0: exit %d, %q", code, errs)
	}
}

// lockedBuffer is written by the command and read by the test at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// With --allow-remote it listens on all interfaces, serves the page, and
// stops on the context (Ctrl-C) with exit 130.
func TestStudioAllowRemoteServes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errs lockedBuffer
	code := make(chan int, 1)
	go func() {
		code <- Run(ctx, &Env{Stdout: &out, Stderr: &errs}, []string{"studio", "--addr", "0.0.0.0:0", "--allow-remote", "--work", t.TempDir()})
	}()
	port := regexp.MustCompile(`studio: http://[^ ]*:(\d+)/`)
	var m []string
	for deadline := time.Now().Add(20 * time.Second); m == nil; {
		if m = port.FindStringSubmatch(out.String()); m == nil {
			if time.Now().After(deadline) {
				t.Fatalf("no address printed: stdout %q, stderr %q", out.String(), errs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	res, err := http.Get("http://127.0.0.1:" + m[1] + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !bytes.Contains(page, []byte(`name="studio-token"`)) {
		t.Errorf("page: %s, %d bytes", res.Status, len(page))
	}
	cancel()
	select {
	case c := <-code:
		if c != 130 {
			t.Errorf("exit %d after Ctrl-C, want 130 (stderr %q)", c, errs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("studio did not stop")
	}
}
