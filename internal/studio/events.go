package studio

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// eventGap is the least time between two writes to one event stream:
// progress comes many times a second, a page needs a few updates.
const eventGap = 150 * time.Millisecond

// keepAlive is how often an idle stream gets a comment line, so proxies
// and browsers do not time it out.
const keepAlive = 15 * time.Second

func (s *Server) handleState(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.snapshot())
}

// handleEvents streams server-sent events: first "state" with everything,
// then "job" with each job that changed, or "state" again when jobs or
// uploads were added or removed. A page that reconnects (EventSource does
// by itself) starts again from "state", so a reload misses nothing.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	wake := make(chan struct{}, 1)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		httpError(w, http.StatusServiceUnavailable, "studio: shutting down")
		return
	}
	s.subs[wake] = true
	first := s.snapshotLocked()
	listRev := s.listRev
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.subs, wake)
		s.mu.Unlock()
	}()
	w.WriteHeader(http.StatusOK)
	sent := first.Rev
	if err := writeEvent(w, "state", first); err != nil || rc.Flush() != nil {
		return
	}
	ping := time.NewTicker(keepAlive)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.ctx.Done():
			return
		case <-ping.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil || rc.Flush() != nil {
				return
			}
			continue
		case <-wake:
		}
		s.mu.Lock()
		var jobs []Job
		var state *stateMsg
		if s.listRev != listRev {
			st := s.snapshotLocked()
			state, listRev = &st, s.listRev
		} else {
			for _, j := range s.jobs {
				if j.Rev > sent {
					jobs = append(jobs, *j)
				}
			}
		}
		sent = s.rev
		s.mu.Unlock()
		var err error
		if state != nil {
			err = writeEvent(w, "state", state)
		}
		for i := range jobs {
			if err == nil {
				err = writeEvent(w, "job", &jobs[i])
			}
		}
		if err != nil || rc.Flush() != nil {
			return
		}
		select { // coalesce what comes in the next moment
		case <-time.After(eventGap):
		case <-r.Context().Done():
			return
		case <-s.ctx.Done():
			return
		}
	}
}

func writeEvent(w http.ResponseWriter, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, b)
	return err
}
