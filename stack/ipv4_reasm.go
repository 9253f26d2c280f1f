package stack

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// IPv4 reassembly (RFC 791 §3.2, RFC 815, RFC 1122 §3.3.2).
//
// Fragments of one datagram are those with the same source, destination,
// protocol and identification. They may arrive in any order, duplicated, or
// not at all. Each datagram being reassembled keeps its fragments as a list
// of byte ranges sorted by offset that never overlap; the gaps between them
// are the "holes" of RFC 815, and the datagram is complete when the last
// fragment (MF clear) has told its length and no hole is left. The complete
// datagram is copied once into a fresh buffer with the header of the first
// fragment, which alone carries every option.
//
// Policies:
//   - A fragment with the same offset, length and bytes as one already held
//     is a duplicate (a retransmission or a duplicated frame): ignored,
//     counted, traced.
//   - A fragment overlapping one already held with different bytes (or a
//     partial overlap) makes the datagram ambiguous; overlaps are how attacks
//     hide data from filters (the "teardrop" family). As RFC 5722 asks for
//     IPv6, the whole datagram is discarded, and the fragments of it that
//     still arrive until its timer runs out are discarded too.
//   - Fragments that would build a datagram over 65535 bytes (the "ping of
//     death") discard the datagram.
//   - Fragments that contradict the length given by the last fragment
//     discard the datagram as malformed.
//   - All datagrams together hold at most IPv4Config.ReassemblyMemory bytes;
//     a fragment that would exceed it evicts the oldest datagrams first. At
//     most MaxReassemblyDatagrams are in progress at once, as a second guard.
//   - A datagram not complete IPv4Config.ReassemblyTimeout after its first
//     fragment arrived is discarded, and if fragment zero had arrived the
//     source gets ICMP time exceeded, code 1 (RFC 1122 §3.3.2).
//
// Every datagram gets the same timeout, so the datagrams in arrival order of
// their first fragment are also in deadline order: one loop timer, armed for
// the oldest, serves them all, and that order is also the eviction order.

// Reassembly defaults and limits.
const (
	// DefaultReassemblyTimeout is how long an incomplete datagram is kept
	// (Linux uses 30 s; RFC 1122 §3.3.2 suggests 60 to 120 s).
	DefaultReassemblyTimeout = 30 * time.Second
	// DefaultReassemblyMemory is the default cap on the bytes held by all
	// incomplete datagrams together.
	DefaultReassemblyMemory = 4 << 20
	// MaxReassemblyDatagrams bounds the datagrams reassembled at once.
	MaxReassemblyDatagrams = 1024
)

// reasmKey identifies the datagram a fragment belongs to (RFC 791 §3.2).
type reasmKey struct {
	src, dst [4]byte
	proto    wire.IPProtocol
	id       uint16
}

// reasmRange is the data of one fragment held: bytes off to end of the
// datagram's data.
type reasmRange struct {
	off, end int
	data     []byte
}

// reasmDatagram is a datagram being reassembled.
type reasmDatagram struct {
	key        reasmKey
	ifc        *Iface
	linkSrc    wire.MAC
	created    clock.Time
	deadline   clock.Time
	prev, next *reasmDatagram // arrival order, oldest first

	ranges    []reasmRange // sorted by offset, never overlapping
	first     []byte       // fragment zero, header and data, once it arrived
	total     int          // data length, known from the last fragment; -1 until then
	maxEnd    int          // the furthest data byte seen
	received  int          // data bytes held
	fragments int          // fragments accepted
	mem       int          // bytes charged against the memory cap
	dead      bool         // discarded for an overlap: later fragments are discarded too
}

// reasmState is the reassembly part of a stack.
type reasmState struct {
	timeout    time.Duration
	capacity   int
	dgrams     map[reasmKey]*reasmDatagram
	head, tail *reasmDatagram // arrival order = deadline order
	held, peak int            // bytes held now, and the most ever held
	timer      *clock.Timer
	armedAt    clock.Time // clock.Never when the timer is not armed

	fragmentsIn, completed, timedOut, duplicates uint64
	drops                                        [numReasons]uint64

	// timeExceeded, when set (by tests), sees every datagram about which
	// ICMP time exceeded is requested, just before the request.
	timeExceeded func(d *Datagram)
}

// reasm returns the stack's reassembly state.
func (s *Stack) reasm() *reasmState { return s.reasmS }

// initReassembly sets up reassembly from the configuration.
func (s *Stack) initReassembly() {
	r := &reasmState{
		timeout:  s.cfg.IPv4.ReassemblyTimeout,
		capacity: s.cfg.IPv4.ReassemblyMemory,
		dgrams:   make(map[reasmKey]*reasmDatagram),
		armedAt:  clock.Never,
	}
	if r.timeout <= 0 {
		r.timeout = DefaultReassemblyTimeout
	}
	if r.capacity <= 0 {
		r.capacity = DefaultReassemblyMemory
	}
	r.timer = s.loop.NewTimer(s.reasmExpire)
	s.reasmS = r
}

// reassemble takes in one validated fragment addressed to this host (h is
// its parsed header, ip the fragment trimmed to its total length). It returns
// the complete datagram, in a fresh buffer with a valid header (total length,
// MF clear, offset 0, checksum), when this fragment completes it, and nil
// otherwise.
func (s *Stack) reassemble(now clock.Time, ifc *Iface, h wire.IPv4Header, ip wire.IPv4, frame wire.Ethernet) wire.IPv4 {
	r := s.reasm()
	r.fragmentsIn++
	ip = ip[:ip.TotalLen()]
	data := ip.Payload()
	off, end := h.FragOff, h.FragOff+len(data)
	if h.More() && (len(data) == 0 || len(data)%8 != 0) {
		s.reasmDrop(now, r, nil, ReasonIPMalformed, frame,
			fmt.Sprintf("fragment id %d at offset %d has MF set but %d data bytes", h.ID, off, len(data)), "RFC 791 §3.2",
			"every fragment but the last must carry a positive multiple of 8 data bytes, since offsets count 8-byte units")
		return nil
	}
	key := reasmKey{src: h.Src.As4(), dst: h.Dst.As4(), proto: h.Protocol, id: h.ID}
	dg := r.dgrams[key]
	if dg != nil && dg.dead {
		s.reasmDrop(now, r, dg, ReasonIPFragOverlap, frame,
			fmt.Sprintf("fragment id %d at offset %d of a datagram already discarded for overlap", h.ID, off), "RFC 5722 §4",
			"this datagram was discarded because its fragments overlapped; its remaining fragments are discarded too until its reassembly timer runs out")
		return nil
	}
	if dg == nil {
		if len(r.dgrams) >= MaxReassemblyDatagrams {
			s.reasmDiscard(now, r, r.head, ReasonIPFragMemory, nil,
				fmt.Sprintf("%d datagrams in reassembly, the most allowed", len(r.dgrams)), false)
		}
		dg = &reasmDatagram{key: key, ifc: ifc, linkSrc: frame.Src(), created: now, deadline: now.Add(r.timeout), total: -1, ranges: make([]reasmRange, 0, 8)}
		r.dgrams[key] = dg
		r.pushBack(dg)
		s.reasmArm(r)
	}

	// The datagram's length must stay consistent and within 65535 bytes.
	hl := wire.IPv4MinHeaderLen
	if off == 0 {
		hl = ip.HeaderLen()
	} else if dg.first != nil {
		hl = wire.IPv4(dg.first).HeaderLen()
	}
	if e := max(dg.maxEnd, end); hl+e > wire.IPv4MaxLen {
		s.reasmDiscard(now, r, dg, ReasonIPFragTooBig, frame,
			fmt.Sprintf("id %d: data up to byte %d behind a %d-byte header makes %d bytes", h.ID, e, hl, hl+e), false)
		return nil
	}
	if !h.More() {
		switch {
		case dg.total >= 0 && dg.total != end:
			s.reasmDiscard(now, r, dg, ReasonIPMalformed, frame,
				fmt.Sprintf("id %d: a second last fragment ends at %d, the first ended at %d", h.ID, end, dg.total), false)
			return nil
		case dg.maxEnd > end:
			s.reasmDiscard(now, r, dg, ReasonIPMalformed, frame,
				fmt.Sprintf("id %d: the last fragment ends at %d but data up to %d was received", h.ID, end, dg.maxEnd), false)
			return nil
		}
	} else if dg.total >= 0 && end > dg.total {
		s.reasmDiscard(now, r, dg, ReasonIPMalformed, frame,
			fmt.Sprintf("id %d: a fragment ends at %d, past the end %d the last fragment gave", h.ID, end, dg.total), false)
		return nil
	}

	// Find where the range goes; a duplicate is ignored, an overlap is fatal.
	i := sort.Search(len(dg.ranges), func(k int) bool { return dg.ranges[k].off >= off })
	if len(data) > 0 {
		if i < len(dg.ranges) && dg.ranges[i].off == off && dg.ranges[i].end == end {
			if bytes.Equal(dg.ranges[i].data, data) {
				r.duplicates++
				s.stats.Drops[ReasonIPFragDuplicate]++
				if s.obs.Active() {
					s.publishDuplicate(now, dg, off, len(data))
				}
				return nil
			}
			s.reasmDiscard(now, r, dg, ReasonIPFragOverlap, frame,
				fmt.Sprintf("id %d: bytes %d-%d arrived again with different content", h.ID, off, end), true)
			return nil
		}
		hit := -1
		if i > 0 && dg.ranges[i-1].end > off {
			hit = i - 1
		} else if i < len(dg.ranges) && dg.ranges[i].off < end {
			hit = i
		}
		if hit >= 0 {
			s.reasmDiscard(now, r, dg, ReasonIPFragOverlap, frame, fmt.Sprintf("id %d: bytes %d-%d overlap bytes %d-%d already received",
				h.ID, off, end, dg.ranges[hit].off, dg.ranges[hit].end), true)
			return nil
		}
	} else if i > 0 && dg.ranges[i-1].end > off {
		s.reasmDiscard(now, r, dg, ReasonIPMalformed, frame,
			fmt.Sprintf("id %d: an empty last fragment at %d lies inside data already received", h.ID, off), false)
		return nil
	}

	// Make room under the memory cap, oldest datagrams first.
	need := len(data)
	if off == 0 {
		need = len(ip)
	}
	for r.held+need > r.capacity {
		victim := r.oldestLive(dg)
		if victim == nil {
			s.reasmDiscard(now, r, dg, ReasonIPFragMemory, frame,
				fmt.Sprintf("id %d: %d more bytes do not fit the %d-byte cap even alone", h.ID, need, r.capacity), false)
			return nil
		}
		s.reasmDiscard(now, r, victim, ReasonIPFragMemory, nil,
			fmt.Sprintf("%d bytes held + %d arriving exceed the %d-byte cap: oldest datagram evicted", r.held, need, r.capacity), false)
	}

	// Keep a copy: the frame belongs to the link.
	var stored []byte
	if off == 0 {
		dg.first = append([]byte(nil), ip...)
		stored = dg.first[len(ip)-len(data):]
		dg.ifc, dg.linkSrc = ifc, frame.Src()
	} else if len(data) > 0 {
		stored = append([]byte(nil), data...)
	}
	if len(data) > 0 {
		dg.ranges = slices.Insert(dg.ranges, i, reasmRange{off: off, end: end, data: stored})
	}
	dg.received += len(data)
	dg.fragments++
	dg.maxEnd = max(dg.maxEnd, end)
	if !h.More() {
		dg.total = end
	}
	dg.mem += need
	r.held += need
	r.peak = max(r.peak, r.held)
	if s.obs.Active() {
		s.publishFragment(now, dg, off, len(data), h.More())
	}
	if dg.total < 0 || dg.received != dg.total || dg.first == nil {
		return nil
	}
	return s.reasmComplete(now, r, dg)
}

// reasmComplete builds the whole datagram of dg and forgets dg.
func (s *Stack) reasmComplete(now clock.Time, r *reasmState, dg *reasmDatagram) wire.IPv4 {
	first := wire.IPv4(dg.first)
	hl := first.HeaderLen()
	buf := make([]byte, hl+dg.total)
	copy(buf, first[:hl])
	for _, rg := range dg.ranges {
		copy(buf[hl+rg.off:], rg.data)
	}
	v := wire.IPv4(buf)
	v.SetTotalLen(uint16(len(buf)))
	v.SetFlags(v.Flags() &^ wire.IPv4FlagMF)
	v.SetFragmentOffset(0)
	v.UpdateChecksum()
	r.completed++
	s.reasmRemove(r, dg)
	if s.obs.Active() {
		s.publishComplete(now, dg, len(buf))
	}
	return v
}

// reasmExpire runs when the timer of the oldest datagram fires: it discards
// every datagram whose time is up.
func (s *Stack) reasmExpire() {
	r := s.reasm()
	now := s.loop.Now()
	r.armedAt = clock.Never
	for r.head != nil && r.head.deadline <= now {
		dg := r.head
		if dg.dead {
			s.reasmRemove(r, dg)
			continue
		}
		r.timedOut++
		holes := dg.holes()
		s.reasmDiscard(now, r, dg, ReasonIPFragTimeout, nil,
			fmt.Sprintf("id %d: %d fragments, %d bytes, %d holes after %v", dg.key.id, dg.fragments, dg.received, holes, r.timeout), false)
		var d *Datagram
		if dg.first != nil {
			d = dg.firstDatagram()
		}
		if s.obs.Active() {
			s.publishTimeout(now, r, dg, holes, d != nil)
		}
		if d != nil {
			if r.timeExceeded != nil {
				r.timeExceeded(d)
			}
			s.icmpError(now, d, wire.ICMPTimeExceeded, wire.ICMPReassemblyExceeded, 0)
		}
	}
	s.reasmArm(r)
}

// firstDatagram rebuilds the received datagram view of fragment zero, which
// an ICMP error quotes.
func (dg *reasmDatagram) firstDatagram() *Datagram {
	first := wire.IPv4(dg.first)
	h, err := wire.ParseIPv4(first)
	if err != nil { // it was validated when it arrived
		return nil
	}
	return &Datagram{
		Iface: dg.ifc, Header: h, Raw: first, Payload: first.Payload(), LinkSrc: dg.linkSrc,
		Broadcast: dg.ifc.isBroadcast(h.Dst), Multicast: h.Dst.IsMulticast(),
	}
}

// reasmDiscard gives up datagram dg for reason, counting and tracing it.
// With tombstone, dg stays known (without data) until its deadline so that
// its later fragments are discarded too.
func (s *Stack) reasmDiscard(now clock.Time, r *reasmState, dg *reasmDatagram, reason Reason, frame []byte, detail string, tombstone bool) {
	if dg == nil {
		return
	}
	if dg.dead { // a tombstone holds nothing: forget it silently
		s.reasmRemove(r, dg)
		return
	}
	s.reasmDrop(now, r, dg, reason, frame, detail, reasmRFC(reason), "")
	if !tombstone {
		s.reasmRemove(r, dg)
		return
	}
	r.held -= dg.mem
	dg.mem, dg.ranges, dg.first, dg.dead = 0, nil, nil, true
}

// reasmRFC returns the RFC section behind a reassembly drop reason.
func reasmRFC(reason Reason) string {
	switch reason {
	case ReasonIPFragOverlap:
		return "RFC 5722 §4"
	case ReasonIPFragMemory, ReasonIPFragTimeout:
		return "RFC 1122 §3.3.2"
	}
	return "RFC 791 §3.2"
}

// reasmDrop counts a drop under reason, as Stack.drop does, and publishes it
// with the RFC section and the datagram's state. An empty explain means the
// reason's own explanation.
func (s *Stack) reasmDrop(now clock.Time, r *reasmState, dg *reasmDatagram, reason Reason, frame []byte, detail, rfc, explain string) {
	s.stats.Drops[reason]++
	r.drops[reason]++
	if !s.obs.Active() {
		return
	}
	if explain == "" {
		explain = reason.Explain()
	}
	e := observe.Event{
		TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerIPv4, Kind: observe.KindDrop,
		Summary: "dropped: " + reason.String() + " (" + detail + ")",
		Explain: explain, RFC: rfc, Reason: reason.String(),
		Fields: map[string]any{"bytes_held": r.held, "memory_cap": r.capacity, "in_progress": len(r.dgrams)},
	}
	if dg != nil {
		dg.fields(e.Fields)
	}
	if frame != nil {
		e.Frame = append([]byte(nil), frame...)
	}
	s.obs.Publish(e)
}

// reasmRemove forgets dg and releases its memory.
func (s *Stack) reasmRemove(r *reasmState, dg *reasmDatagram) {
	if r.dgrams[dg.key] != dg {
		return
	}
	delete(r.dgrams, dg.key)
	r.unlink(dg)
	r.held -= dg.mem
	dg.mem = 0
	s.reasmArm(r)
}

// reasmArm arms the timer for the oldest datagram, or stops it.
func (s *Stack) reasmArm(r *reasmState) {
	if r.head == nil {
		if r.armedAt != clock.Never {
			r.timer.Stop()
			r.armedAt = clock.Never
		}
		return
	}
	if r.armedAt != r.head.deadline {
		r.timer.Reset(r.head.deadline)
		r.armedAt = r.head.deadline
	}
}

func (r *reasmState) pushBack(dg *reasmDatagram) {
	dg.prev, dg.next = r.tail, nil
	if r.tail != nil {
		r.tail.next = dg
	} else {
		r.head = dg
	}
	r.tail = dg
}

func (r *reasmState) unlink(dg *reasmDatagram) {
	if dg.prev != nil {
		dg.prev.next = dg.next
	} else {
		r.head = dg.next
	}
	if dg.next != nil {
		dg.next.prev = dg.prev
	} else {
		r.tail = dg.prev
	}
	dg.prev, dg.next = nil, nil
}

// oldestLive returns the oldest datagram holding data, other than except.
func (r *reasmState) oldestLive(except *reasmDatagram) *reasmDatagram {
	for dg := r.head; dg != nil; dg = dg.next {
		if dg != except && !dg.dead {
			return dg
		}
	}
	return nil
}

// holes counts the missing ranges of the datagram's data (RFC 815): gaps
// between the fragments held, and the tail while the last fragment is
// missing.
func (dg *reasmDatagram) holes() int {
	n, at := 0, 0
	for _, rg := range dg.ranges {
		if rg.off > at {
			n++
		}
		at = rg.end
	}
	if dg.total < 0 || at < dg.total {
		n++
	}
	return n
}

func (dg *reasmDatagram) src() netip.Addr { return netip.AddrFrom4(dg.key.src) }
func (dg *reasmDatagram) dst() netip.Addr { return netip.AddrFrom4(dg.key.dst) }

// name formats the datagram for summaries: "10.0.0.1 > 10.0.0.2 UDP id 7".
func (dg *reasmDatagram) name() string {
	return fmt.Sprintf("%s > %s %s id %d", dg.src(), dg.dst(), dg.key.proto, dg.key.id)
}

// fields adds the datagram's identity and progress to an event's fields.
func (dg *reasmDatagram) fields(f map[string]any) {
	f["src"], f["dst"], f["proto"], f["id"] = dg.src().String(), dg.dst().String(), uint8(dg.key.proto), dg.key.id
	f["fragments"], f["received"], f["total"] = dg.fragments, dg.received, dg.total
}

// reasmEvent publishes a reassembly event about dg with fields f (to which
// the datagram's identity and progress are added).
func (s *Stack) reasmEvent(now clock.Time, dg *reasmDatagram, kind observe.Kind, summary, explain, rfc string, f map[string]any) {
	dg.fields(f)
	s.obs.Publish(observe.Event{TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerIPv4, Kind: kind,
		Summary: summary, Explain: explain, RFC: rfc, Fields: f})
}

func (s *Stack) publishFragment(now clock.Time, dg *reasmDatagram, off, n int, more bool) {
	holes := dg.holes()
	s.reasmEvent(now, dg, observe.KindRX,
		fmt.Sprintf("fragment of %s: offset %d, %d bytes, MF %v; %d holes remain", dg.name(), off, n, more, holes),
		"fragments of one datagram share source, destination, protocol and identification; each is held until the others fill the holes, "+
			"the byte ranges still missing, in whatever order they arrive; the last fragment (MF clear) tells the datagram's length",
		"RFC 791 §3.2, RFC 815",
		map[string]any{"offset": off, "len": n, "mf": more, "holes": holes, "bytes_held": s.reasm().held})
}

func (s *Stack) publishDuplicate(now clock.Time, dg *reasmDatagram, off, n int) {
	f := map[string]any{"offset": off, "len": n}
	dg.fields(f)
	s.obs.Publish(observe.Event{TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerIPv4, Kind: observe.KindDrop,
		Summary: fmt.Sprintf("duplicate fragment of %s: offset %d, %d bytes, ignored", dg.name(), off, n),
		Explain: "the same bytes at the same offset were already received (the network duplicated the frame or the sender repeated it), so the copy adds nothing",
		RFC:     "RFC 791 §3.2, RFC 815", Reason: ReasonIPFragDuplicate.String(), Fields: f})
}

func (s *Stack) publishComplete(now clock.Time, dg *reasmDatagram, size int) {
	took := now.Sub(dg.created)
	s.reasmEvent(now, dg, observe.KindInfo,
		fmt.Sprintf("reassembled %s: %d bytes from %d fragments", dg.name(), size, dg.fragments),
		fmt.Sprintf("every hole is filled, so the %d fragments are joined behind the first fragment's header into one datagram, which goes up to its protocol (it took %v)", dg.fragments, took),
		"RFC 791 §3.2, RFC 815", map[string]any{"len": size, "took_ns": int64(took)})
}

func (s *Stack) publishTimeout(now clock.Time, r *reasmState, dg *reasmDatagram, holes int, icmp bool) {
	explain := fmt.Sprintf("the datagram was not complete %v after its first fragment arrived, so its fragments are given up", r.timeout)
	if icmp {
		explain += "; fragment zero had arrived, so the source is told with ICMP time exceeded, code 1 (fragment reassembly time exceeded), quoting it"
	} else {
		explain += "; fragment zero never arrived, so no ICMP error is sent: there would be no header and first 8 data bytes to quote"
	}
	s.reasmEvent(now, dg, observe.KindTimer,
		fmt.Sprintf("reassembly timer expired for %s: %d fragments, %d holes", dg.name(), dg.fragments, holes), explain,
		"RFC 1122 §3.3.2", map[string]any{"holes": holes, "timeout_ns": int64(r.timeout), "icmp_time_exceeded": icmp})
}

// ReassemblyStats is a snapshot of IPv4 reassembly, for the dashboard.
type ReassemblyStats struct {
	InProgress   int           // incomplete datagrams held
	BytesHeld    int           // bytes they hold, charged against the cap
	PeakBytes    int           // the most bytes ever held at once
	MemoryCap    int           // the cap on BytesHeld
	MaxDatagrams int           // the cap on InProgress
	Timeout      time.Duration // how long an incomplete datagram is kept

	FragmentsIn uint64            // fragments received for reassembly
	Completed   uint64            // datagrams reassembled
	TimedOut    uint64            // datagrams given up at their timeout
	Duplicates  uint64            // duplicate fragments ignored
	Dropped     map[string]uint64 // drops by reason name (datagrams given up, fragments refused)

	Datagrams []ReassemblyEntry // the datagrams in progress, oldest first
}

// ReassemblyEntry is one datagram being reassembled.
type ReassemblyEntry struct {
	Src, Dst  netip.Addr
	Proto     wire.IPProtocol
	ID        uint16
	Fragments int        // fragments received
	Bytes     int        // data bytes received
	Total     int        // data length once the last fragment arrived, else -1
	Holes     int        // missing ranges (RFC 815)
	Expires   clock.Time // when it is given up
}

// ReassemblyStats returns a snapshot of reassembly. Loop work only; from
// other goroutines use Call.
func (s *Stack) ReassemblyStats() ReassemblyStats {
	r := s.reasm()
	st := ReassemblyStats{
		BytesHeld: r.held, PeakBytes: r.peak, MemoryCap: r.capacity, MaxDatagrams: MaxReassemblyDatagrams, Timeout: r.timeout,
		FragmentsIn: r.fragmentsIn, Completed: r.completed, TimedOut: r.timedOut, Duplicates: r.duplicates,
		Dropped: make(map[string]uint64),
	}
	for reason, n := range r.drops {
		if n != 0 {
			st.Dropped[Reason(reason).String()] = n
		}
	}
	for dg := r.head; dg != nil; dg = dg.next {
		if dg.dead {
			continue
		}
		st.InProgress++
		st.Datagrams = append(st.Datagrams, ReassemblyEntry{
			Src: dg.src(), Dst: dg.dst(), Proto: dg.key.proto, ID: dg.key.id,
			Fragments: dg.fragments, Bytes: dg.received, Total: dg.total, Holes: dg.holes(), Expires: dg.deadline,
		})
	}
	return st
}
