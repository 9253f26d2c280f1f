package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
)

func (l *testLab) dial(t *testing.T, query string, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(l.ts.URL, "http") + "/api/v1/events" + query
	c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: hdr})
	if err == nil {
		c.SetReadLimit(64 << 20)
		t.Cleanup(func() { c.CloseNow() })
	}
	return c, resp, err
}

// wsReader reads a connection's messages on a goroutine of its own: a
// Read whose context ends closes a coder/websocket connection, so waiting
// with a timeout happens here instead.
type wsReader struct {
	msgs chan []byte
	errc chan error
}

func startReader(c *websocket.Conn) *wsReader {
	r := &wsReader{msgs: make(chan []byte, 1024), errc: make(chan error, 1)}
	go func() {
		for {
			typ, b, err := c.Read(context.Background())
			if err == nil && typ != websocket.MessageText {
				err = errors.New("binary message")
			}
			if err != nil {
				r.errc <- err
				return
			}
			r.msgs <- b
		}
	}()
	return r
}

// read returns the next message's events, or nil after d without one.
func read(t *testing.T, r *wsReader, d time.Duration) []StreamEvent {
	t.Helper()
	var b []byte
	select {
	case b = <-r.msgs:
	case err := <-r.errc:
		t.Fatalf("read: %v", err)
	case <-time.After(d):
		return nil
	}
	var evs []StreamEvent
	if err := json.Unmarshal(b, &evs); err != nil {
		t.Fatalf("message is not a JSON array of events: %v: %.200s", err, b)
	}
	if len(evs) == 0 {
		t.Fatal("empty batch")
	}
	return evs
}

// collect reads until stop reports true or 5 s pass.
func collect(t *testing.T, c *wsReader, stop func([]StreamEvent) bool) []StreamEvent {
	t.Helper()
	var all []StreamEvent
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		all = append(all, read(t, c, 200*time.Millisecond)...)
		if stop(all) {
			return all
		}
	}
	t.Fatalf("gave up after %d events", len(all))
	return nil
}

func has(evs []StreamEvent, f func(e *StreamEvent) bool) *StreamEvent {
	for i := range evs {
		if f(&evs[i]) {
			return &evs[i]
		}
	}
	return nil
}

func TestEventStreamFilter(t *testing.T) {
	l := newTestLab(t, nil)
	conn, _, err := l.dial(t, "?hosts=a&layers=icmp", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := startReader(conn)
	l.must(t, 200, "POST", "/api/v1/hosts/a/ping", map[string]any{"address": addrB, "count": 1})
	evs := collect(t, c, func(all []StreamEvent) bool {
		return has(all, func(e *StreamEvent) bool {
			return e.Kind == observe.KindRX && strings.Contains(e.Summary, "echo reply")
		}) != nil
	})
	last := uint64(0)
	for _, e := range evs {
		if e.Host != "a" || e.Layer != observe.LayerICMP {
			t.Fatalf("event outside the filter: %+v", e)
		}
		if e.Seq <= last {
			t.Fatalf("seq %d after %d", e.Seq, last)
		}
		last = e.Seq
	}
	if _, resp, err := l.dial(t, "?layers=quantum", nil); err == nil || resp.StatusCode != 400 {
		t.Fatalf("bad filter: %v", err)
	}
	if _, resp, err := l.dial(t, "?since=x", nil); err == nil || resp.StatusCode != 400 {
		t.Fatalf("bad since: %v", err)
	}
}

func TestEventStreamOrigin(t *testing.T) {
	l := newTestLab(t, nil)
	_, resp, err := l.dial(t, "", http.Header{"Origin": {"http://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("foreign origin: %v %v", err, resp)
	}
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), "forbidden") {
		t.Fatalf("body %s", b)
	}
	if _, _, err := l.dial(t, "", http.Header{"Origin": {l.ts.URL}}); err != nil {
		t.Fatalf("same origin: %v", err)
	}
}

// Streamed frame events have no bytes; /frames/{seq} serves them with the
// dissection and the path of the frame through both hosts.
func TestFramesOnDemand(t *testing.T) {
	l := newTestLab(t, nil)
	conn, _, err := l.dial(t, "?hosts=a&layers=link", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := startReader(conn)
	l.must(t, 200, "POST", "/api/v1/hosts/a/ping", map[string]any{"address": addrB, "count": 1})
	var req *StreamEvent
	collect(t, c, func(all []StreamEvent) bool {
		for i := range all {
			if all[i].Frame != nil {
				t.Fatalf("streamed event carries its frame: %+v", all[i])
			}
		}
		// The second frame a sends is the echo request (the first is ARP).
		req = nil
		n := 0
		for i := range all {
			if all[i].Kind == observe.KindTX && all[i].HasFrame {
				if n++; n == 2 {
					req = &all[i]
				}
			}
		}
		return req != nil
	})
	m := l.must(t, 200, "GET", "/api/v1/frames/"+strconv.FormatUint(req.Seq, 10), nil)
	d := m["dissection"].(map[string]any)
	if d["protocol"] != "ICMP" || m["length"].(float64) != 98 || len(m["hex"].(string)) != 196 {
		t.Fatalf("frame: %v", m)
	}
	hosts := map[string]bool{}
	for _, e := range m["path"].([]any) {
		e := e.(map[string]any)
		hosts[e["host"].(string)] = true
		if _, ok := e["frame"]; ok {
			t.Fatal("path event carries its frame")
		}
	}
	if !hosts["a"] || !hosts["b"] {
		t.Fatalf("path of the echo request does not cross both hosts: %v", m["path"])
	}
	if n, _ := l.srv.frames.len(); n == 0 {
		t.Fatal("frame store is empty")
	}
}

func TestEventStreamSinceAndReset(t *testing.T) {
	l := newTestLabBus(t, observe.BusOptions{RingSize: 64}, nil)
	// Someone listens, so that the stacks publish and the ring fills.
	keep := l.bus.Subscribe(observe.Filter{}, 1<<16)
	defer keep.Close()
	l.must(t, 200, "POST", "/api/v1/hosts/a/ping", map[string]any{"address": addrB, "count": 1})
	mark := l.bus.Stats().Published
	l.must(t, 200, "POST", "/api/v1/hosts/a/ping", map[string]any{"address": addrB, "count": 1})
	if l.bus.Stats().Oldest > mark+1 {
		t.Skip("the second ping alone overflowed the ring")
	}
	c, _, err := l.dial(t, "?since="+strconv.FormatUint(mark, 10), nil)
	if err != nil {
		t.Fatal(err)
	}
	evs := read(t, startReader(c), 2*time.Second)
	if len(evs) == 0 || evs[0].Seq != mark+1 {
		t.Fatalf("replay from %d starts with %+v", mark, evs)
	}
	// Generate more than the ring holds, then ask for the start.
	for l.bus.Stats().Oldest <= 2 {
		l.must(t, 200, "POST", "/api/v1/hosts/a/ping", map[string]any{"address": addrB, "count": 1})
	}
	c2, _, err := l.dial(t, "?since=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	l.must(t, 200, "POST", "/api/v1/hosts/a/ping", map[string]any{"address": addrB, "count": 1})
	evs = read(t, startReader(c2), 2*time.Second)
	if len(evs) == 0 || evs[0].Kind != observe.KindReset {
		t.Fatalf("since=1 after the ring moved on: %+v", evs)
	}
}

// A client that reads nothing while the lab moves a lot of TCP data costs a
// bounded queue, and when it reads again it learns exactly how many events
// it missed.
func TestSlowClientBoundedWithGap(t *testing.T) {
	const bound = 256
	l := newTestLab(t, func(c *Config) { c.EventQueue = bound; c.BatchMax = 64 })
	c, _, err := l.dial(t, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	for len(l.srv.EventClients()) == 0 {
		time.Sleep(time.Millisecond)
	}
	// 100 MB over TCP from a to b, driven through the stacks' sockets.
	ln, _ := l.b.Socket(stack.AF_INET, stack.SOCK_STREAM, 0)
	if err := ln.Bind(netip.MustParseAddrPort(addrB + ":9")); err != nil {
		t.Fatal(err)
	}
	ln.Listen(1)
	const total = 100 << 20 // the acceptance: the lab moves 100 MB while the client reads nothing
	done := make(chan error, 1)
	go func() {
		so, _, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		n, err := io.Copy(io.Discard, stack.NewConn(so))
		if err == nil && n != total {
			err = errors.New("short transfer")
		}
		done <- err
	}()
	cs, _ := l.a.Socket(stack.AF_INET, stack.SOCK_STREAM, 0)
	if err := cs.Connect(netip.MustParseAddrPort(addrB + ":9")); err != nil {
		t.Fatal(err)
	}
	conn := stack.NewConn(cs)
	go func() {
		conn.Write(make([]byte, total))
		conn.Close()
	}()
	maxQueued := 0
	for waiting := true; waiting; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			waiting = false
		case <-time.After(2 * time.Millisecond):
		}
		st := l.srv.EventClients()[0]
		maxQueued = max(maxQueued, st.Queued)
		if st.Queued > bound || st.QueueBound != bound {
			t.Fatalf("queue %d over its bound %d", st.Queued, bound)
		}
	}
	cl := l.srv.EventClients()
	if len(cl) != 1 {
		t.Fatalf("the slow client was disconnected: %v", cl)
	}
	missed := cl[0].Missed
	if missed == 0 {
		t.Fatalf("the client missed nothing (max queued %d): the test moved too little", maxQueued)
	}
	// Read everything now: the gap events add up to what was missed.
	var gaps, events uint64
	rd := startReader(c)
	for {
		evs := read(t, rd, 500*time.Millisecond)
		if evs == nil {
			break
		}
		for _, e := range evs {
			events++
			if e.Kind == observe.KindGap {
				n, ok := observe.FieldUint(&e.Event, "missed")
				if !ok {
					if f, ok2 := e.Fields["missed"].(float64); ok2 {
						n, ok = uint64(f), true
					}
				}
				if !ok || n == 0 {
					t.Fatalf("gap event without a count: %+v", e)
				}
				gaps += n
			}
		}
	}
	cl = l.srv.EventClients()
	if len(cl) != 1 {
		t.Fatalf("the client was disconnected: %v", cl)
	}
	st := cl[0]
	if gaps == 0 || gaps != st.Missed {
		t.Fatalf("gap events count %d missed events, the queue missed %d (first sample %d)", gaps, st.Missed, missed)
	}
	t.Logf("%d events received, %d missed in gaps, queue peak %d of %d, %d messages", events, gaps, maxQueued, bound, st.Messages)
}
