package studio

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/facesynth/facesynth/internal/assets"
	"github.com/facesynth/facesynth/internal/testmedia"
)

// chromium finds a Chromium or Chrome binary: FACESYNTH_CHROMIUM, or the
// usual names on PATH (Debian's package is "chromium").
func chromium() string {
	if p := os.Getenv("FACESYNTH_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// The studio in a real browser: upload the sample photo and speech through
// the file input, start talk, reload the page while the job runs (the same
// job comes back at the same progress), watch it reach 100 % and play the
// result. FACESYNTH_STUDIO_SHOT=1 saves a screenshot to out/studio/studio.png.
func TestBrowserTalk(t *testing.T) {
	bin := chromium()
	if bin == "" {
		t.Skip("no Chromium binary found: install it (Debian: apt-get install chromium) or set FACESYNTH_CHROMIUM")
	}
	photo, audio := testmedia.Path(t, "astronaut.png"), testmedia.Path(t, "jfk.wav")
	c := start(t, Config{Samples: mediaDir()})
	release := make(chan struct{})
	var once sync.Once
	unhold := func() { once.Do(func() { close(release) }) }
	defer unhold()
	reached := holdAt(c.s, 100, release)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox, // tests may run as root, where Chromium's sandbox refuses to start
		chromedp.WindowSize(1360, 1000),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("mute-audio", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	// A Chromium newer than chromedp's protocol tables sends event fields
	// it cannot decode (network address spaces); they concern nothing
	// here, so they are not logged.
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithErrorf(func(format string, a ...any) {
		if msg := fmt.Sprintf(format, a...); !strings.Contains(msg, "could not unmarshal event") {
			t.Logf("chromedp: %s", msg)
		}
	}))
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(bctx, 4*time.Minute)
	defer cancel()

	// Every script error or console error (a CSP violation, a failed
	// request) fails the test.
	var mu sync.Mutex
	var pageErrors []string
	chromedp.ListenTarget(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			pageErrors = append(pageErrors, "exception: "+ev.ExceptionDetails.Error())
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.LevelError {
				pageErrors = append(pageErrors, fmt.Sprintf("console %s: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		}
	})
	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// poll waits until a JavaScript expression is truthy and stores its value.
	poll := func(what, expr string, res any, timeout time.Duration) {
		t.Helper()
		run(what, chromedp.Poll(expr, res, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(100*time.Millisecond)))
	}

	run("open the studio", cdplog.Enable(), chromedp.Navigate(c.base+"/"), chromedp.WaitVisible("#upload-input", chromedp.ByQuery))
	poll("live connection", `document.querySelector('#conn').textContent === 'live'`, nil, 20*time.Second)
	run("upload photo and speech", chromedp.SetUploadFiles("#upload-input", []string{photo, audio}, chromedp.ByQuery))
	var chosen []string
	poll("uploads in the talk form", `(() => {
		const p = document.querySelector('#talk-photo').selectedOptions[0], a = document.querySelector('#talk-audio').selectedOptions[0];
		return p && a && p.text.startsWith('astronaut.png') && a.text.startsWith('jfk.wav') && [p.text, a.text];
	})()`, &chosen, time.Minute)
	t.Logf("talk form: %v", chosen)
	if n := len(c.s.snapshot().Uploads); n != 2 {
		t.Fatalf("%d uploads on the server, want 2", n)
	}

	run("start talk", chromedp.Click("#talk-start", chromedp.ByQuery))
	id := waitReached(t, reached, 2*time.Minute)
	// The job is held at frame 100 of 275: 36 %. Frame 99 also shows
	// 36 %, and its report may reach the page a moment before frame 100's,
	// so the wait is for the frame count itself.
	cardAt := func(pct string) string {
		return fmt.Sprintf(`(() => {
			const c = document.querySelector('.job[data-id=%q]');
			return c && c.dataset.state === 'running' && c.querySelector('.pct').textContent === %q &&
				c.querySelector('.stage').textContent === 'render 100/275 frames' &&
				[c.querySelector('.stage').textContent, c.querySelector('.eta').textContent];
		})()`, id, pct)
	}
	var line []string
	poll("progress at 36 %", cardAt("36 %"), &line, 30*time.Second)
	t.Logf("before reload: %v", line)
	if line[0] != "render 100/275 frames" || !strings.HasPrefix(line[1], "ETA ") {
		t.Errorf("job line before reload: %q", line)
	}

	// Reload mid-job: the same job, at the same progress.
	run("reload", chromedp.Reload(), chromedp.WaitVisible("#upload-input", chromedp.ByQuery))
	poll("same job after reload", cardAt("36 %"), &line, 30*time.Second)
	var cards int
	run("count jobs", chromedp.Evaluate(`document.querySelectorAll('.job').length`, &cards))
	if cards != 1 {
		t.Errorf("%d job cards after reload, want 1", cards)
	}
	t.Logf("after reload: %v", line)

	unhold()
	poll("100 %", fmt.Sprintf(`(() => {
		const c = document.querySelector('.job[data-id=%q]');
		return c && c.dataset.state === 'done' && c.querySelector('.pct').textContent === '100 %%';
	})()`, id), nil, 2*time.Minute)

	// The result plays: its clock advances.
	var played []float64
	poll("video plays", fmt.Sprintf(`(() => {
		const v = document.querySelector('.job[data-id=%q] video.result-video');
		if (!v || v.readyState < 2) return false;
		v.muted = true;
		if (v.paused) v.play();
		return v.currentTime > 1.5 && [v.currentTime, v.duration, v.videoWidth, v.videoHeight];
	})()`, id), &played, time.Minute)
	t.Logf("video: currentTime %.2f s of %.2f s, %gx%g", played[0], played[1], played[2], played[3])
	if played[1] < 10.9 || played[1] > 11.2 || played[2] != 512 || played[3] != 512 {
		t.Errorf("video: duration %.2f s, %gx%g; want 11 s at 512x512", played[1], played[2], played[3])
	}
	var before string
	run("before image", chromedp.AttributeValue(fmt.Sprintf(`.job[data-id=%q] .before img`, id), "src", &before, nil, chromedp.ByQuery))
	if !strings.HasPrefix(before, "/api/uploads/") {
		t.Errorf("before image %q", before)
	}

	if os.Getenv("FACESYNTH_STUDIO_SHOT") == "1" {
		screenshot(t, ctx, id)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, e := range pageErrors {
		t.Errorf("page error: %s", e)
	}
}

// screenshot saves the page, with the result paused a few seconds in, to
// out/studio/studio.png in the repository.
func screenshot(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	var buf []byte
	err := chromedp.Run(ctx,
		chromedp.Evaluate(fmt.Sprintf(`(() => {
			const v = document.querySelector('.job[data-id=%q] video.result-video');
			v.pause(); v.currentTime = 3.2; return true;
		})()`, id), nil),
		chromedp.Sleep(500*time.Millisecond), // the seek paints
		chromedp.CaptureScreenshot(&buf),
	)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	root := assets.RepoRoot()
	if root == "" {
		t.Fatal("screenshot: not inside the repository")
	}
	out := filepath.Join(root, "out", "studio", "studio.png")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", out, len(buf))
}
