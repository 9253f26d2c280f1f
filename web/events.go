package web

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/tipy/tipy/observe"
)

// eventClient is one WebSocket client of the event stream.
type eventClient struct {
	id        uint64
	remote    string
	filter    observe.Filter
	bound     int
	sub       *observe.Subscription
	messages  atomic.Uint64
	sent      atomic.Uint64
	coalesced atomic.Uint64
}

// EventClientStats describe one client of the event stream: its filter,
// its queue (never more than QueueBound events) and what it was sent.
type EventClientStats struct {
	ID         uint64         `json:"id"`
	Remote     string         `json:"remote"`
	Filter     observe.Filter `json:"filter"`
	QueueBound int            `json:"queue_bound"`
	Queued     int            `json:"queued"`    // events waiting now
	Missed     uint64         `json:"missed"`    // events that did not fit, reported in gap events
	Messages   uint64         `json:"messages"`  // WebSocket messages sent
	Sent       uint64         `json:"sent"`      // events sent
	Coalesced  uint64         `json:"coalesced"` // samples replaced by a later one of their series
}

// EventClients returns the stats of every connected event stream client.
func (s *Server) EventClients() []EventClientStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]EventClientStats, 0, len(s.clients))
	for c := range s.clients {
		st := c.sub.Stats()
		out = append(out, EventClientStats{ID: c.id, Remote: c.remote, Filter: c.filter, QueueBound: c.bound,
			Queued: st.Queued, Missed: st.Missed, Messages: c.messages.Load(), Sent: c.sent.Load(), Coalesced: c.coalesced.Load()})
	}
	slices.SortFunc(out, func(a, b EventClientStats) int { return int(a.ID) - int(b.ID) })
	return out
}

// events upgrades GET /api/v1/events to a WebSocket that carries the
// events matching the query's filter (hosts, layers, kinds, conn), from
// after since when given. Each message is a JSON array of StreamEvents.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Bus == nil {
		writeError(w, conflict("this server has no live event bus (%s mode); play a trace back through /replays", s.cfg.Mode))
		return
	}
	q := r.URL.Query()
	f, err := observe.ParseFilter(q.Get("hosts"), q.Get("layers"), q.Get("kinds"), q.Get("conn"))
	if err != nil {
		writeError(w, badRequest("filter: %v", err))
		return
	}
	var since *uint64
	if v := q.Get("since"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeError(w, badRequest("since=%q is not an event sequence number", v))
			return
		}
		since = &n
	}
	if !originOK(r) {
		writeError(w, errorf(http.StatusForbidden, CodeForbidden, "WebSocket origin %q is not this server (%s)", r.Header.Get("Origin"), r.Host))
		return
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		writeError(w, badRequest("GET /api/v1/events is a WebSocket: send the Upgrade: websocket handshake"))
		return
	}
	// Subscribe before the handshake completes, so that a client sees
	// every event published after its connection is established.
	c := &eventClient{remote: r.RemoteAddr, filter: f, bound: s.cfg.EventQueue}
	if since != nil {
		c.sub, _ = s.cfg.Bus.SubscribeSince(*since, f, s.cfg.EventQueue)
	} else {
		c.sub = s.cfg.Bus.Subscribe(f, s.cfg.EventQueue)
	}
	// On a TAP host, which runs at wall speed, a live view samples: while
	// its queue is full the stack does not build events for it, and a gap
	// event says when building paused (observe.Subscription.SetSampling).
	// The lab's virtual time is paced for watching: its stream stays
	// complete, every missed event counted.
	if s.cfg.Mode == ModeTAP {
		c.sub.SetSampling(true)
	}
	defer c.sub.Close()
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true}) // origin checked above
	if err != nil {
		return // Accept has answered
	}
	defer conn.CloseNow()
	s.mu.Lock()
	s.nextCID++
	c.id = s.nextCID
	s.clients[c] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.clients, c)
		s.mu.Unlock()
	}()

	ctx := conn.CloseRead(s.ctx) // ends when the client goes or the server closes
	if err := s.stream(ctx, conn, c); err == nil || ctx.Err() != nil {
		conn.Close(websocket.StatusNormalClosure, "")
	}
}

// stream sends c's events until ctx ends or a write fails.
func (s *Server) stream(ctx context.Context, conn *websocket.Conn, c *eventClient) error {
	buf := make([]observe.Event, s.cfg.BatchMax)
	var enc batchEncoder
	pace := time.NewTimer(0)
	defer pace.Stop()
	for {
		n := c.sub.TryNextN(buf)
		if n == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-c.sub.Ready():
				continue
			}
		}
		wctx, cancel := context.WithTimeout(ctx, s.cfg.WriteTimeout)
		w, err := conn.Writer(wctx, websocket.MessageText)
		var sent, merged int
		if err == nil {
			sent, merged, err = enc.encode(w, buf[:n], s.frames.put)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
		}
		cancel()
		clear(buf[:n]) // drop references to frames early
		if err != nil {
			return err
		}
		c.messages.Add(1)
		c.sent.Add(uint64(sent))
		c.coalesced.Add(uint64(merged))
		// At most one message per MessageInterval: the events that arrive
		// meanwhile wait in the bounded queue and go in the next batch.
		pace.Reset(MessageInterval)
		select {
		case <-ctx.Done():
			return nil
		case <-pace.C:
		}
	}
}
