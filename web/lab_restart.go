package web

import (
	"net/http"
)

// RestartFunc stops the lab, rebuilds it with seed (paused when asked) and
// makes a new server take over from the one that calls it. It returns the
// seq of the new lab's first event (everything the new lab publishes has
// that seq or a later one, and nothing else does), and returns before the
// old server closes, so the caller can still answer.
type RestartFunc func(seed uint64, paused bool) (firstSeq uint64, err error)

// restartRequest is the body of POST /lab/restart.
type restartRequest struct {
	Seed   *uint64 `json:"seed"`   // default: the lab's seed
	Paused bool    `json:"paused"` // start the new lab paused
}

// labRestart rebuilds the lab: every host starts afresh with the seed, so
// the same seed and the same calls give the same events. Sockets opened
// through the API belong to the old lab and are gone. Event streams of the
// old lab end; the event numbers (seq) go on increasing, and first_seq in
// the answer is where the new lab's events start (GET /events?since=).
func (s *Server) labRestart(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.lab(); err != nil {
		return err
	}
	if s.cfg.Restart == nil {
		return notFound("this lab cannot be restarted")
	}
	var req restartRequest
	if err := s.decodeOptional(w, r, &req); err != nil {
		return err
	}
	seed := s.cfg.Seed
	if req.Seed != nil {
		seed = *req.Seed
	}
	first, err := s.cfg.Restart(seed, req.Paused)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"seed": seed, "paused": req.Paused, "first_seq": first})
	return nil
}
