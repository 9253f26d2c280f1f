package stack

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// Ping: ICMP echo (RFC 792) as a program uses it, like the ping command.
//
// A ping sends Count echo requests, one every Interval, each with an
// identifier shared by the whole ping and a sequence number from 1. The data
// of each request starts with the time it was sent (8 bytes, nanoseconds on
// the stack's clock) and continues with the bytes 8, 9, 10, ... so that a
// reply whose data differs is reported as corrupt. A request is answered by
// an echo reply (its round-trip time is measured on the stack's clock), by an
// ICMP error that quotes it ("time exceeded from 10.0.5.1"), by a local error
// (no ARP answer), or by nothing within Timeout: then it is lost. Every timer
// runs on the stack's loop, so on a virtual clock a ping of 4 requests a
// second apart takes 3 virtual seconds and no real ones.

// Ping defaults, as the ping command's.
const (
	DefaultPingCount    = 4
	DefaultPingSize     = 56
	DefaultPingInterval = time.Second
	DefaultPingTimeout  = 2 * time.Second
)

// maxPingSize is the largest echo payload: 65535 minus the 20-byte IPv4 and
// 8-byte ICMP headers.
const maxPingSize = 65535 - wire.IPv4MinHeaderLen - wire.ICMPHeaderLen

// pingStampLen is the send time at the front of the payload.
const pingStampLen = 8

// PingOptions say how to ping. Zero fields take the defaults.
type PingOptions struct {
	Count    int           `json:"count"`       // echo requests to send; default 4, at most 65535
	Size     int           `json:"size"`        // payload bytes of each request; default 56 (84-byte datagrams)
	TTL      uint8         `json:"ttl"`         // IPv4 TTL of the requests; 0: DefaultTTL
	Interval time.Duration `json:"interval_ns"` // between requests; default 1 s
	Timeout  time.Duration `json:"timeout_ns"`  // how long to wait for each reply; default 2 s
	ID       uint16        `json:"id"`          // ICMP identifier; 0: chosen from the stack's seeded source
}

// PingReply is one echo reply.
type PingReply struct {
	Seq       int           `json:"seq"`                 // sequence number of the request it answers
	RTT       time.Duration `json:"rtt_ns"`              // round-trip time on the stack's clock
	RTTMillis float64       `json:"rtt_ms"`              // RTT in milliseconds, for people
	TTL       uint8         `json:"ttl"`                 // TTL of the reply as received
	From      netip.Addr    `json:"from"`                // who answered
	Bytes     int           `json:"bytes"`               // ICMP bytes received (header and data)
	Duplicate bool          `json:"duplicate,omitempty"` // a second reply to the same request (not counted)
	Corrupt   bool          `json:"corrupt,omitempty"`   // the data differs from what was sent
}

// PingError is a request answered by an error instead of a reply: an ICMP
// error quoting it, or a local error (Type and Code zero, Errno set).
type PingError struct {
	Seq   int           `json:"seq"`             // sequence number of the request
	From  netip.Addr    `json:"from"`            // the host that sent the ICMP error; zero for a local error
	Type  wire.ICMPType `json:"type"`            // ICMP type, e.g. 11 for time exceeded
	Code  uint8         `json:"code"`            // ICMP code
	Errno string        `json:"errno,omitempty"` // the socket error it maps to, e.g. "EHOSTUNREACH"
	Text  string        `json:"text"`            // in words, e.g. "ICMP time exceeded (TTL) from 10.0.5.1"
}

// PingResult is what a ping saw.
type PingResult struct {
	Address    netip.Addr    `json:"address"`    // the pinged address
	Source     netip.Addr    `json:"source"`     // our address the requests came from
	ID         uint16        `json:"id"`         // ICMP identifier
	Size       int           `json:"size"`       // payload bytes per request
	Sent       int           `json:"sent"`       // requests sent
	Received   int           `json:"received"`   // requests answered by a reply (duplicates not counted)
	Duplicates int           `json:"duplicates"` // extra replies to requests already answered
	Replies    []PingReply   `json:"replies"`    // every reply, in order of arrival
	Errors     []PingError   `json:"errors"`     // requests answered by an error
	Lost       []int         `json:"lost"`       // sequence numbers that got no answer in time
	MinRTT     time.Duration `json:"min_rtt_ns"` // over the counted replies; zero without any
	AvgRTT     time.Duration `json:"avg_rtt_ns"`
	MaxRTT     time.Duration `json:"max_rtt_ns"`
}

// Ping sends echo requests to dst and collects the answers, returning when
// every request has been answered or has timed out, or when ctx ends (then
// with what was seen so far and ctx's error; unanswered requests count as
// lost). It may be called from any goroutine except loop work, and several
// pings may run at once. Errors before the first request (an invalid option,
// no route to dst) are returned as socket errors.
func (s *Stack) Ping(ctx context.Context, dst netip.Addr, o PingOptions) (PingResult, error) {
	var ps *pingSession
	var err error
	s.loop.Call(func() { ps, err = s.startPing(s.loop.Now(), dst, o) })
	if err != nil {
		return PingResult{}, err
	}
	select {
	case <-ps.done:
		return ps.res, nil
	case <-ctx.Done():
		s.loop.Call(func() { ps.finish(s.loop.Now(), true) })
		<-ps.done
		return ps.res, ctx.Err()
	}
}

// ActivePings returns how many pings are running on the stack. Loop work
// only; from other goroutines use Call.
func (s *Stack) ActivePings() int { return len(s.icmpSt().pings) }

// pingState is where one request of a ping stands.
type pingState uint8

const (
	pingPending pingState = iota // sent, waiting
	pingReplied                  // answered by a reply
	pingErrored                  // answered by an error
	pingLost                     // no answer in time
)

// pingSession is one running ping. It lives on the stack's loop.
type pingSession struct {
	s        *Stack
	o        PingOptions
	send     SendOptions
	sentAt   []clock.Time // by seq-1
	state    []pingState  // by seq-1
	timers   []*clock.Timer
	next     *clock.Timer // sends the next request
	pending  int
	res      PingResult
	done     chan struct{}
	finished bool
}

// startPing checks the options, registers the ping and sends its first
// request.
func (s *Stack) startPing(now clock.Time, dst netip.Addr, o PingOptions) (*pingSession, error) {
	if err := o.normalize(dst); err != nil {
		return nil, err
	}
	_, _, src, err := s.RouteTo(now, dst, &SendOptions{TTL: o.TTL})
	if err != nil {
		return nil, err
	}
	st := s.icmpSt()
	if o.ID == 0 {
		for o.ID == 0 || st.pings[o.ID] != nil {
			o.ID = uint16(s.rng.Uint32())
		}
	} else if st.pings[o.ID] != nil {
		return nil, sockErr("ping", dst.String(), EADDRINUSE, fmt.Sprintf("another ping already uses ICMP identifier %d", o.ID))
	}
	ps := &pingSession{
		s:      s,
		o:      o,
		send:   SendOptions{TTL: o.TTL},
		sentAt: make([]clock.Time, 0, o.Count),
		state:  make([]pingState, 0, o.Count),
		timers: make([]*clock.Timer, 0, o.Count),
		res:    PingResult{Address: dst, Source: src, ID: o.ID, Size: o.Size, Replies: []PingReply{}, Errors: []PingError{}, Lost: []int{}},
		done:   make(chan struct{}),
	}
	st.pings[o.ID] = ps
	if s.obs.Active() {
		s.obs.Publish(observe.Event{
			TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerICMP, Kind: observe.KindInfo,
			Summary: fmt.Sprintf("ping %s from %s: %d echo requests of %d bytes, id %d, every %v, timeout %v", dst, src, o.Count, o.Size, o.ID, o.Interval, o.Timeout),
			Explain: "ping sends ICMP echo requests; every host must answer them with echo replies, and the time until the reply is the round-trip time",
			RFC:     "RFC 792, RFC 1122 §3.2.2.6",
			Fields:  map[string]any{"dst": dst.String(), "src": src.String(), "id": o.ID, "count": o.Count, "size": o.Size, "ttl": o.TTL, "interval_ns": int64(o.Interval), "timeout_ns": int64(o.Timeout)},
		})
	}
	ps.next = s.loop.NewTimer(func() { ps.sendNext(s.loop.Now()) })
	ps.sendNext(now)
	return ps, nil
}

// normalize fills in the defaults and checks the ranges.
func (o *PingOptions) normalize(dst netip.Addr) error {
	bad := func(detail string) error { return sockErr("ping", dst.String(), EINVAL, detail) }
	if !dst.Is4() {
		return sockErr("ping", dst.String(), EAFNOSUPPORT, "tipy pings IPv4 addresses only")
	}
	switch {
	case o.Count < 0 || o.Count > 65535:
		return bad(fmt.Sprintf("count %d: must be between 1 and 65535 (0 means %d)", o.Count, DefaultPingCount))
	case o.Size < 0 || o.Size > maxPingSize:
		return bad(fmt.Sprintf("size %d: must be between 1 and %d (0 means %d)", o.Size, maxPingSize, DefaultPingSize))
	case o.Interval < 0:
		return bad(fmt.Sprintf("interval %v: must not be negative", o.Interval))
	case o.Timeout < 0:
		return bad(fmt.Sprintf("timeout %v: must not be negative", o.Timeout))
	}
	if o.Count == 0 {
		o.Count = DefaultPingCount
	}
	if o.Size == 0 {
		o.Size = DefaultPingSize
	}
	if o.Interval == 0 {
		o.Interval = DefaultPingInterval
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultPingTimeout
	}
	return nil
}

// payload returns the data of request seq sent at t.
func (ps *pingSession) payload(t clock.Time) []byte {
	b := make([]byte, ps.o.Size)
	var stamp [pingStampLen]byte
	binary.BigEndian.PutUint64(stamp[:], uint64(t))
	n := copy(b, stamp[:])
	for i := n; i < len(b); i++ {
		b[i] = byte(i)
	}
	return b
}

// sendNext sends the next request and arms the timer of the one after.
func (ps *pingSession) sendNext(now clock.Time) {
	if ps.finished || len(ps.sentAt) >= ps.o.Count {
		return
	}
	s := ps.s
	seq := len(ps.sentAt) + 1
	ps.sentAt = append(ps.sentAt, now)
	ps.state = append(ps.state, pingPending)
	ps.timers = append(ps.timers, s.loop.Schedule(now.Add(ps.o.Timeout), func() { ps.expire(s.loop.Now(), seq) }))
	ps.pending++
	ps.res.Sent++
	o := ps.send
	o.OnError = func(err error) { ps.localError(s.loop.Now(), seq, err) }
	h := wire.ICMPHeader{Type: wire.ICMPEchoRequest, ID: ps.o.ID, Seq: uint16(seq)}
	why := func() (string, string) {
		return fmt.Sprintf("ping request %d of %d to %s: an echo request that %s must answer with an echo reply", seq, ps.o.Count, ps.res.Address, ps.res.Address), "RFC 792, RFC 1122 §3.2.2.6"
	}
	if err := s.sendICMPOpts(now, ps.res.Address, &h, ps.payload(now), &o, why); err != nil {
		ps.localError(now, seq, err)
	}
	if ps.finished {
		return
	}
	if len(ps.sentAt) < ps.o.Count {
		ps.next.Reset(now.Add(ps.o.Interval))
	}
}

// resolve marks request seq answered (or lost) and finishes the ping when it
// was the last one outstanding. It reports false when seq was not pending.
func (ps *pingSession) resolve(now clock.Time, seq int, st pingState) bool {
	if !ps.isPending(seq) {
		return false
	}
	ps.state[seq-1] = st
	ps.timers[seq-1].Stop()
	ps.pending--
	if ps.pending == 0 && len(ps.sentAt) == ps.o.Count {
		defer ps.finish(now, false)
	}
	return true
}

// reply takes an echo reply with the ping's identifier.
func (ps *pingSession) reply(now clock.Time, d *Datagram, h *wire.ICMPHeader) {
	s := ps.s
	seq := int(h.Seq)
	if seq < 1 || seq > len(ps.sentAt) {
		s.dropDatagram(now, observe.LayerICMP, ReasonICMPUnmatched, d, fmt.Sprintf("echo reply id %d seq %d from %s: this ping sent no such request", h.ID, h.Seq, d.Header.Src))
		return
	}
	r := PingReply{Seq: seq, RTT: now.Sub(ps.sentAt[seq-1]), TTL: d.Header.TTL, From: d.Header.Src, Bytes: wire.ICMPHeaderLen + len(h.Data)}
	r.RTTMillis = float64(r.RTT) / float64(time.Millisecond)
	r.Corrupt = !bytes.Equal(h.Data, ps.payload(ps.sentAt[seq-1]))
	switch ps.state[seq-1] {
	case pingReplied:
		r.Duplicate = true
		ps.res.Duplicates++
	case pingLost:
		s.dropDatagram(now, observe.LayerICMP, ReasonICMPUnmatched, d, fmt.Sprintf("echo reply seq %d from %s came %v after the request, later than the %v timeout: already counted lost", seq, d.Header.Src, r.RTT, ps.o.Timeout))
		return
	case pingErrored:
		// A reply after an error (a soft one, say) still proves the path.
		ps.state[seq-1] = pingPending
		ps.pending++
		fallthrough
	default:
		ps.res.Received++
	}
	ps.res.Replies = append(ps.res.Replies, r)
	if s.obs.Active() {
		summary := fmt.Sprintf("ping reply from %s: seq %d, ttl %d, %d bytes, rtt %v", r.From, seq, r.TTL, r.Bytes, r.RTT)
		explain := "the echo reply carries the request's identifier and sequence number; the round-trip time is the time since that request left"
		switch {
		case r.Duplicate:
			summary += " (duplicate)"
			explain = "a second reply to a request already answered: the network duplicated a datagram, or two hosts answered"
		case r.Corrupt:
			summary += " (data differs from the request)"
			explain = "the reply's data is not the data that was sent: something on the path changed it without breaking the checksum"
		}
		s.obs.Publish(observe.Event{
			TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerICMP, Kind: observe.KindSample,
			Summary: summary, Explain: explain, RFC: "RFC 792",
			Fields: map[string]any{"dst": ps.res.Address.String(), "from": r.From.String(), "id": ps.o.ID, "seq": seq, "rtt_ns": int64(r.RTT), "ttl": r.TTL, "bytes": r.Bytes, "duplicate": r.Duplicate, "corrupt": r.Corrupt},
		})
	}
	if !r.Duplicate {
		ps.resolve(now, seq, pingReplied)
	}
}

// icmpError takes an ICMP error quoting request seq.
func (ps *pingSession) icmpError(now clock.Time, seq uint16, te *TransportError, h *wire.ICMPHeader) {
	if !ps.isPending(int(seq)) {
		ps.s.drop(now, observe.LayerICMP, ReasonICMPUnmatched, nil, fmt.Sprintf("%s about ping seq %d, which is not waiting for an answer", te.Detail, seq))
		return
	}
	ps.res.Errors = append(ps.res.Errors, PingError{Seq: int(seq), From: te.From, Type: h.Type, Code: h.Code, Errno: te.Errno.Name(), Text: te.Detail})
	ps.resolve(now, int(seq), pingErrored)
}

// isPending reports whether request seq was sent and waits for an answer.
func (ps *pingSession) isPending(seq int) bool {
	return !ps.finished && seq >= 1 && seq <= len(ps.state) && ps.state[seq-1] == pingPending
}

// localError records that request seq could not be sent or delivered.
func (ps *pingSession) localError(now clock.Time, seq int, err error) {
	if !ps.isPending(seq) {
		return
	}
	pe := PingError{Seq: seq, Text: err.Error()}
	if se, ok := err.(*SocketError); ok {
		pe.Errno = se.Errno.Name()
	}
	ps.res.Errors = append(ps.res.Errors, pe)
	ps.resolve(now, seq, pingErrored)
}

// expire counts request seq lost when its timeout runs out unanswered.
func (ps *pingSession) expire(now clock.Time, seq int) {
	if !ps.isPending(seq) {
		return
	}
	ps.res.Lost = append(ps.res.Lost, seq)
	if s := ps.s; s.obs.Active() {
		s.obs.Publish(observe.Event{
			TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerICMP, Kind: observe.KindTimer,
			Summary: fmt.Sprintf("ping %s: no answer to seq %d within %v, counted lost", ps.res.Address, seq, ps.o.Timeout),
			Explain: "neither an echo reply nor an ICMP error came back in time: the request or its reply was lost, or nobody answers at that address",
			Fields:  map[string]any{"dst": ps.res.Address.String(), "id": ps.o.ID, "seq": seq, "timeout_ns": int64(ps.o.Timeout)},
		})
	}
	ps.resolve(now, seq, pingLost)
}

// finish ends the ping: timers stop, the identifier is free again, the
// result is complete. cancelled counts the requests still waiting as lost
// and stops sending.
func (ps *pingSession) finish(now clock.Time, cancelled bool) {
	if ps.finished {
		return
	}
	ps.finished = true
	s := ps.s
	ps.next.Stop()
	for i, t := range ps.timers {
		t.Stop()
		if ps.state[i] == pingPending {
			ps.state[i] = pingLost
			ps.res.Lost = append(ps.res.Lost, i+1)
		}
	}
	slices.Sort(ps.res.Lost)
	if st := s.icmpSt(); st.pings[ps.o.ID] == ps {
		delete(st.pings, ps.o.ID)
	}
	var sum time.Duration
	n := 0
	for _, r := range ps.res.Replies {
		if r.Duplicate {
			continue
		}
		if n == 0 || r.RTT < ps.res.MinRTT {
			ps.res.MinRTT = r.RTT
		}
		ps.res.MaxRTT = max(ps.res.MaxRTT, r.RTT)
		sum += r.RTT
		n++
	}
	if n > 0 {
		ps.res.AvgRTT = sum / time.Duration(n)
	}
	if s.obs.Active() {
		res := &ps.res
		loss := 0.0
		if res.Sent > 0 {
			loss = 100 * float64(res.Sent-res.Received) / float64(res.Sent)
		}
		summary := fmt.Sprintf("ping %s done: %d sent, %d received, %d errors, %.0f%% loss, rtt min/avg/max %v/%v/%v", res.Address, res.Sent, res.Received, len(res.Errors), loss, res.MinRTT, res.AvgRTT, res.MaxRTT)
		if cancelled {
			summary += " (stopped early)"
		}
		s.obs.Publish(observe.Event{
			TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerICMP, Kind: observe.KindInfo, Summary: summary,
			Fields: map[string]any{"dst": res.Address.String(), "id": res.ID, "sent": res.Sent, "received": res.Received, "errors": len(res.Errors), "lost": len(res.Lost), "duplicates": res.Duplicates, "min_rtt_ns": int64(res.MinRTT), "avg_rtt_ns": int64(res.AvgRTT), "max_rtt_ns": int64(res.MaxRTT)},
		})
	}
	close(ps.done)
}
