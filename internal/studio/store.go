package studio

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/facesynth/facesynth/internal/fsutil"
	"github.com/facesynth/facesynth/internal/verify"
)

// State is where a job is in its life.
type State string

const (
	Queued      State = "queued"
	Running     State = "running"
	Done        State = "done"
	Failed      State = "failed"
	Cancelled   State = "cancelled"   // from the page; resumable
	Interrupted State = "interrupted" // the server stopped while it ran; resumable
)

// resumable states can be queued again; a swap then continues its
// checkpoint, the other kinds start over (they take seconds to minutes).
func (st State) resumable() bool { return st == Failed || st == Cancelled || st == Interrupted }

// Job is one piece of work and everything the page shows about it. It is
// also the job's file in the work folder.
type Job struct {
	ID       string     `json:"id"`
	Spec     Spec       `json:"spec"`
	State    State      `json:"state"`
	Error    string     `json:"error,omitempty"`
	Created  time.Time  `json:"created"`
	Started  *time.Time `json:"started,omitempty"`
	Finished *time.Time `json:"finished,omitempty"`
	Runs     int        `json:"runs"` // times started (resumes add one)
	Progress Progress   `json:"progress"`
	Result   *Result    `json:"result,omitempty"`
	// Rev grows with every change, so an event stream sends a job only
	// when it changed since the last time.
	Rev int64 `json:"rev"`
}

// Progress is how far a running job is.
type Progress struct {
	Stage   string  `json:"stage"` // "render", "train", "extract target", ...
	Done    int     `json:"done"`
	Total   int     `json:"total"` // 0: unknown
	Unit    string  `json:"unit,omitempty"`
	Status  string  `json:"status,omitempty"` // the stage's own words (losses, faces found)
	Percent float64 `json:"percent"`          // of the whole job, 0..100
	ETA     float64 `json:"eta_s"`            // seconds left, -1 unknown
	Elapsed float64 `json:"elapsed_s"`        // seconds of this run
	// Preview and Loss are the modification times (Unix ns) of a swap's
	// preview grid and loss curve, 0 before the first: the page fetches
	// the image again when the number changes.
	Preview int64 `json:"preview,omitempty"`
	Loss    int64 `json:"loss,omitempty"`
}

// Result is what a finished job made.
type Result struct {
	Video   bool           `json:"video"` // result.mp4, fetched by the job's id
	Summary string         `json:"summary"`
	Verify  *verify.Report `json:"verify,omitempty"`
}

// Upload is an uploaded (or sample) file. The file itself is ID+Ext in
// the uploads folder; Name is only shown.
type Upload struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Kind     string    `json:"kind"` // "image", "audio" or "video"
	Type     string    `json:"type"` // MIME type it is served with
	Ext      string    `json:"ext"`
	Size     int64     `json:"size"`
	Width    int       `json:"width,omitempty"`
	Height   int       `json:"height,omitempty"`
	Duration float64   `json:"duration,omitempty"` // seconds
	HasAudio bool      `json:"has_audio,omitempty"`
	Created  time.Time `json:"created"`
}

func (s *Server) jobDir(id string) string  { return filepath.Join(s.cfg.Work, "jobs", id) }
func (s *Server) jobFile(id string) string { return filepath.Join(s.jobDir(id), "job.json") }
func (s *Server) resultPath(id string) string {
	return filepath.Join(s.jobDir(id), "result.mp4")
}
func (s *Server) uploadPath(u *Upload) string {
	return filepath.Join(s.cfg.Work, "uploads", u.ID+u.Ext)
}
func (s *Server) uploadMeta(id string) string {
	return filepath.Join(s.cfg.Work, "uploads", id+".json")
}

// loadUploads reads the uploads folder's records; a record whose file is
// gone is dropped.
func (s *Server) loadUploads() error {
	paths, err := filepath.Glob(filepath.Join(s.cfg.Work, "uploads", "*.json"))
	if err != nil {
		return fmt.Errorf("studio: %w", err)
	}
	for _, p := range paths {
		var u Upload
		if err := readJSONFile(p, &u); err != nil || !idPattern.MatchString(u.ID) ||
			u.ID+".json" != filepath.Base(p) || !validExt(u.Ext) {
			continue
		}
		if _, err := os.Stat(s.uploadPath(&u)); err != nil {
			continue
		}
		s.uploads[u.ID] = &u
	}
	return nil
}

// validExt: extensions are made by the server, but a record is still read
// from disk, and an extension with a separator would lead elsewhere.
func validExt(ext string) bool {
	return len(ext) >= 2 && len(ext) <= 6 && ext[0] == '.' && !strings.ContainsAny(ext[1:], `./\`)
}

// loadJobs reads the saved jobs. Running ones become interrupted; the ids
// of queued ones are returned to be queued again.
func (s *Server) loadJobs() (requeue []string, err error) {
	paths, err := filepath.Glob(filepath.Join(s.cfg.Work, "jobs", "*", "job.json"))
	if err != nil {
		return nil, fmt.Errorf("studio: %w", err)
	}
	var queued, stopped []*Job
	for _, p := range paths {
		var j Job
		if err := readJSONFile(p, &j); err != nil || !idPattern.MatchString(j.ID) || filepath.Base(filepath.Dir(p)) != j.ID {
			continue
		}
		switch j.State {
		case Running:
			j.State = Interrupted
			j.Progress.ETA = -1
			j.Error = "the studio stopped while this job ran; resume it to continue"
			stopped = append(stopped, &j)
		case Queued:
			queued = append(queued, &j)
		}
		s.rev = max(s.rev, j.Rev)
		s.jobs[j.ID] = &j
	}
	for _, j := range stopped {
		s.touch(j)
	}
	sort.Slice(queued, func(a, b int) bool { return queued[a].Created.Before(queued[b].Created) })
	for _, j := range queued {
		requeue = append(requeue, j.ID)
	}
	if len(requeue) > maxQueued {
		return nil, fmt.Errorf("studio: %d queued jobs, more than %d", len(requeue), maxQueued)
	}
	return requeue, nil
}

func readJSONFile(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// touch records a change of job j (under s.mu): a new rev, a save soon,
// and a wake-up for the event streams.
func (s *Server) touch(j *Job) {
	s.rev++
	j.Rev = s.rev
	s.dirty[j.ID] = true
	s.notify()
}

// touchList records that a job or upload was added or removed (under s.mu).
func (s *Server) touchList() {
	s.rev++
	s.listRev = s.rev
	s.notify()
}

// notify wakes every event stream without ever blocking (under s.mu).
func (s *Server) notify() {
	for c := range s.subs {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// saver writes changed jobs to disk once a second, so progress survives
// a crash without a file write per progress report.
func (s *Server) saver() {
	defer s.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			s.flush()
		}
	}
}

// flush writes every job changed since it was last written. State changes
// call it at once, so a finished job is on disk before anyone is told.
func (s *Server) flush() error {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	s.mu.Lock()
	type snap struct {
		id  string
		rev int64
		b   []byte
	}
	var todo []snap
	for id := range s.dirty {
		j, ok := s.jobs[id]
		delete(s.dirty, id)
		if !ok || s.saved[id] >= j.Rev && j.Rev != 0 {
			continue
		}
		b, err := json.MarshalIndent(j, "", "  ")
		if err != nil {
			continue
		}
		todo = append(todo, snap{id, j.Rev, b})
	}
	s.mu.Unlock()
	var first error
	for _, t := range todo {
		if err := os.MkdirAll(s.jobDir(t.id), 0o755); err != nil && first == nil {
			first = fmt.Errorf("studio: %w", err)
			continue
		}
		if err := fsutil.WriteFile(s.jobFile(t.id), t.b, 0o644); err != nil {
			if first == nil {
				first = fmt.Errorf("studio: save job %s: %w", t.id, err)
			}
			s.mu.Lock()
			if _, ok := s.jobs[t.id]; ok {
				s.dirty[t.id] = true // try again
			}
			s.mu.Unlock()
			continue
		}
		s.saved[t.id] = t.rev
	}
	return first
}

// snapshot copies the jobs and uploads, newest first, for the page.
func (s *Server) snapshot() stateMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshotLocked()
}

func (s *Server) snapshotLocked() stateMsg {
	m := stateMsg{Jobs: make([]Job, 0, len(s.jobs)), Uploads: make([]Upload, 0, len(s.uploads)), Samples: s.samples(), Rev: s.rev}
	for _, j := range s.jobs {
		m.Jobs = append(m.Jobs, *j)
	}
	for _, u := range s.uploads {
		m.Uploads = append(m.Uploads, *u)
	}
	sort.Slice(m.Jobs, func(a, b int) bool { return m.Jobs[a].Created.After(m.Jobs[b].Created) })
	sort.Slice(m.Uploads, func(a, b int) bool { return m.Uploads[a].Created.After(m.Uploads[b].Created) })
	return m
}

// stateMsg is everything the page shows: GET /api/state, and the first
// event of every stream.
type stateMsg struct {
	Jobs    []Job    `json:"jobs"`
	Uploads []Upload `json:"uploads"`
	Samples []string `json:"samples"`
	Rev     int64    `json:"rev"`
}

// samples lists the sample files present.
func (s *Server) samples() []string {
	out := []string{}
	if s.cfg.Samples == "" {
		return out
	}
	for _, n := range SampleNames {
		if st, err := os.Stat(filepath.Join(s.cfg.Samples, n)); err == nil && st.Mode().IsRegular() {
			out = append(out, n)
		}
	}
	return out
}

func removeAll(dir string) error {
	err := os.RemoveAll(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
