package stack

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// ICMP input (RFC 792, RFC 1122 §3.2.2).
//
// Every ICMP message is validated once: a whole 8-byte header, then the
// checksum over the whole message. Then, by type:
//
//   - Echo request: answered with an echo reply carrying the same
//     identifier, sequence number and data, from the address the request was
//     sent to (RFC 1122 §3.2.2.6); a Record Route option of the request is
//     carried back with this host recorded (ipv4_rr.go). Requests sent to a
//     broadcast or multicast address are ignored by default, as Linux does
//     with net.ipv4.icmp_echo_ignore_broadcasts=1: one ping to a broadcast
//     address would otherwise make every host of the network answer at once (the
//     "smurf" amplification attack). [Stack.SetICMPEchoBroadcasts] turns
//     answering on; the reply then comes from the receiving interface's own
//     address (RFC 1122 §3.2.2.6).
//   - Echo reply: delivered to the outstanding [Stack.Ping] with that
//     identifier. Raw ICMP sockets see every message through the IPv4 layer
//     anyway.
//   - Timestamp request: answered with a timestamp reply (RFC 792), the
//     times in milliseconds since midnight UT of the stack's clock (on a
//     virtual clock, since the start of the run).
//   - Errors (destination unreachable, time exceeded, parameter problem):
//     the quoted datagram must be one this host sent; the error is then
//     given to the outstanding ping whose echo request it quotes, or to the
//     transport of the quoted datagram as a *TransportError (errno and
//     hard/soft as RFC 1122 §4.2.3.9 and Linux's icmp_err_convert decide).
//   - Source quench is ignored (RFC 6633 deprecates it); redirects are traced
//     but not acted on: tipy's routes change only when a person changes them.
//
// Every message that is not used is counted and traced with its reason.

// icmpState is the ICMP layer's part of a Stack.
type icmpState struct {
	echoBroadcasts bool                    // answer echo/timestamp requests sent to broadcast or multicast
	bucket         tokenBucket             // rate limit of the errors we send
	pings          map[uint16]*pingSession // outstanding pings by identifier
}

// initICMP registers ICMP (IP protocol 1) with the IPv4 layer.
func (s *Stack) initICMP() {
	st := s.icmpSt()
	st.pings = make(map[uint16]*pingSession)
	s.HandleProtocol(wire.ProtoICMP, s.icmpInput)
}

// SetICMPEchoBroadcasts makes the stack answer echo and timestamp requests
// sent to a broadcast or multicast address (off by default, like Linux's
// icmp_echo_ignore_broadcasts=1). Loop work only; from other goroutines use
// Call.
func (s *Stack) SetICMPEchoBroadcasts(on bool) { s.icmpSt().echoBroadcasts = on }

// icmpInput is the handler of IP protocol 1.
func (s *Stack) icmpInput(now clock.Time, d *Datagram) {
	h, err := wire.ParseICMP(d.Payload)
	if err != nil {
		s.dropDatagram(now, observe.LayerICMP, ReasonICMPMalformed, d, err.Error())
		return
	}
	if msg := wire.ICMP(d.Payload); !msg.ChecksumValid() {
		s.dropDatagram(now, observe.LayerICMP, ReasonICMPBadChecksum, d, msg.VerifyChecksum().Error())
		return
	}
	if s.obs.Active() {
		s.publishICMP(now, observe.KindRX, &h, d.Header.Src, d.Header.Dst, "received", "", "")
	}
	switch h.Type {
	case wire.ICMPEchoRequest:
		s.icmpEchoRequest(now, d, &h)
	case wire.ICMPEchoReply:
		s.icmpEchoReply(now, d, &h)
	case wire.ICMPTimestamp:
		s.icmpTimestampRequest(now, d, &h)
	case wire.ICMPDestinationUnreachable, wire.ICMPTimeExceeded, wire.ICMPParameterProblem:
		s.icmpErrorInput(now, d, &h)
	case wire.ICMPSourceQuench:
		s.dropDatagram(now, observe.LayerICMP, ReasonICMPIgnored, d,
			fmt.Sprintf("source quench from %s ignored: RFC 6633 deprecates it, congestion is signalled by loss and ECN instead", d.Header.Src))
	case wire.ICMPRedirect:
		s.icmpRedirect(now, d, &h)
	default:
		s.dropDatagram(now, observe.LayerICMP, ReasonICMPIgnored, d,
			fmt.Sprintf("%s (type %d) from %s: nothing in this host uses it", h.Type, uint8(h.Type), d.Header.Src))
	}
}

// icmpEchoRequest answers a ping.
func (s *Stack) icmpEchoRequest(now clock.Time, d *Datagram, h *wire.ICMPHeader) {
	src, ok := s.icmpReplySource(now, d, h)
	if !ok {
		return
	}
	reply := wire.ICMPHeader{Type: wire.ICMPEchoReply, ID: h.ID, Seq: h.Seq}
	why := func() (string, string) {
		return fmt.Sprintf("%s pings this host (id %d, seq %d), so it answers with an echo reply carrying the same identifier, sequence number and %d bytes of data", d.Header.Src, h.ID, h.Seq, len(h.Data)), "RFC 792, RFC 1122 §3.2.2.6"
	}
	o := &SendOptions{Src: src, Options: s.echoReplyOptions(now, d, src)}
	s.sendICMPOpts(now, d.Header.Src, &reply, h.Data, o, why)
}

// icmpReplySource returns the source address of a reply to a query, or
// reports false (after counting the drop) when the query must not be
// answered: one sent to a broadcast or multicast address, by default.
func (s *Stack) icmpReplySource(now clock.Time, d *Datagram, h *wire.ICMPHeader) (netip.Addr, bool) {
	if !d.Broadcast && !d.Multicast {
		return d.Header.Dst, true
	}
	if !s.icmpSt().echoBroadcasts {
		s.dropDatagram(now, observe.LayerICMP, ReasonICMPEchoBroadcast, d,
			fmt.Sprintf("%s to %s not answered: requests to broadcast or multicast addresses are ignored, like Linux's icmp_echo_ignore_broadcasts=1, so that one packet cannot make every host reply at once", h.Type, d.Header.Dst))
		return netip.Addr{}, false
	}
	// RFC 1122 §3.2.2.6: the reply to a broadcast or multicast request comes
	// from a specific address of the host.
	return d.Iface.addr.Addr(), true
}

// icmpTimestampRequest answers a timestamp request (RFC 792): originate is
// copied, receive and transmit are now, in milliseconds since midnight UT.
func (s *Stack) icmpTimestampRequest(now clock.Time, d *Datagram, h *wire.ICMPHeader) {
	if len(h.Data) < icmpTimestampDataLen {
		s.dropDatagram(now, observe.LayerICMP, ReasonICMPMalformed, d,
			fmt.Sprintf("timestamp request with %d bytes of data, RFC 792 needs %d", len(h.Data), icmpTimestampDataLen))
		return
	}
	src, ok := s.icmpReplySource(now, d, h)
	if !ok {
		return
	}
	ms := icmpTimestampMillis(now)
	data := make([]byte, icmpTimestampDataLen)
	copy(data[0:4], h.Data[0:4]) // originate timestamp
	binary.BigEndian.PutUint32(data[4:8], ms)
	binary.BigEndian.PutUint32(data[8:12], ms)
	reply := wire.ICMPHeader{Type: wire.ICMPTimestampReply, ID: h.ID, Seq: h.Seq}
	why := func() (string, string) {
		return fmt.Sprintf("%s asks for this host's clock, so it answers with the time of receipt and of transmission: %d ms since midnight UT", d.Header.Src, ms), "RFC 792"
	}
	s.sendICMP(now, src, d.Header.Src, &reply, data, why)
}

// icmpTimestampDataLen is the data of a timestamp message: originate,
// receive and transmit timestamps of 32 bits each.
const icmpTimestampDataLen = 12

// icmpTimestampMillis returns now as milliseconds since midnight UT, the
// unit of RFC 792's timestamps.
func icmpTimestampMillis(now clock.Time) uint32 {
	const day = 24 * 60 * 60 * 1000
	ms := int64(now) / 1e6 % day
	if ms < 0 {
		ms += day
	}
	return uint32(ms)
}

// icmpEchoReply gives an echo reply to the ping that sent the request.
func (s *Stack) icmpEchoReply(now clock.Time, d *Datagram, h *wire.ICMPHeader) {
	if ps := s.icmpSt().pings[h.ID]; ps != nil {
		ps.reply(now, d, h)
		return
	}
	s.dropDatagram(now, observe.LayerICMP, ReasonICMPUnmatched, d,
		fmt.Sprintf("echo reply id %d seq %d from %s: no ping with that identifier is running (a raw socket may still have read it)", h.ID, h.Seq, d.Header.Src))
}

// icmpRedirect traces a redirect. A host may update its route cache from it
// (RFC 1122 §3.2.2.2); tipy does not, so that routes change only when a
// person changes them, and redirects are a classic way to hijack traffic.
func (s *Stack) icmpRedirect(now clock.Time, d *Datagram, h *wire.ICMPHeader) {
	q := h.Quoted()
	dst := "?"
	if q.HasAddrs {
		dst = q.Dst.String()
	}
	s.dropDatagram(now, observe.LayerICMP, ReasonICMPIgnored, d,
		fmt.Sprintf("redirect from %s: use gateway %s for %s; not applied, tipy's routes change only by configuration", d.Header.Src, h.Gateway, dst))
}

// icmpErrorInput handles destination unreachable, time exceeded and
// parameter problem: it finds who sent the quoted datagram and tells them.
func (s *Stack) icmpErrorInput(now clock.Time, d *Datagram, h *wire.ICMPHeader) {
	if d.Broadcast || d.Multicast {
		// RFC 1122 §3.2.2: no ICMP error is sent to a broadcast or multicast
		// address, so one that arrives so is bogus.
		s.dropDatagram(now, observe.LayerICMP, ReasonICMPIgnored, d,
			fmt.Sprintf("%s sent to %s: errors are never sent to broadcast or multicast addresses (RFC 1122 §3.2.2)", h.Type, d.Header.Dst))
		return
	}
	q := h.Quoted()
	if !q.HasAddrs {
		s.dropDatagram(now, observe.LayerICMP, ReasonICMPMalformed, d,
			fmt.Sprintf("%s from %s quotes %d bytes, not an IPv4 header (RFC 792 asks for the header and 8 bytes of data)", h.Type, d.Header.Src, len(h.Quote)))
		return
	}
	if !s.isOwnAddr(q.Src) {
		s.dropDatagram(now, observe.LayerICMP, ReasonICMPUnmatched, d,
			fmt.Sprintf("%s from %s is about a datagram from %s, which is not this host", h.Type, d.Header.Src, q.Src))
		return
	}
	te := icmpTransportError(d.Header.Src, h, q)
	if s.obs.Active() {
		s.publishTransportError(now, te)
	}
	if q.Protocol == wire.ProtoICMP {
		if id, seq, ok := quotedEcho(h.Quote, q.HeaderLen); ok {
			if ps := s.icmpSt().pings[id]; ps != nil {
				ps.icmpError(now, seq, te, h)
				return
			}
		}
	}
	if eh := s.ip.errHandlers[q.Protocol]; eh != nil {
		eh(now, te)
		return
	}
	s.dropDatagram(now, observe.LayerICMP, ReasonICMPUnmatched, d,
		fmt.Sprintf("%s: no %s socket or ping to tell", te.Detail, q.Protocol))
}

// quotedEcho returns the identifier and sequence number of the echo request
// quoted by an error message, if the quote holds one.
func quotedEcho(quote []byte, ihl int) (id, seq uint16, ok bool) {
	if ihl <= 0 || len(quote) < ihl+wire.ICMPHeaderLen {
		return 0, 0, false
	}
	m := wire.ICMP(quote[ihl:])
	if m.Type() != wire.ICMPEchoRequest {
		return 0, 0, false
	}
	return m.ID(), m.Seq(), true
}

// publishTransportError traces an ICMP error about one of our datagrams.
func (s *Stack) publishTransportError(now clock.Time, te *TransportError) {
	hard := "soft"
	explain := "a soft error may be a passing routing problem, so a connection keeps trying and only remembers it (RFC 1122 §4.2.3.9)"
	if te.Hard {
		hard = "hard"
		explain = "a hard error means the datagram can never get through as sent, so the socket is told at once (RFC 1122 §4.2.3.9)"
	}
	fields := map[string]any{
		"from": te.From.String(), "type": uint8(te.Type), "code": te.Code, "proto": uint8(te.Proto),
		"src": te.Src.String(), "dst": te.Dst.String(), "errno": te.Errno.Name(), "hard": te.Hard,
	}
	if te.SrcPort != 0 || te.DstPort != 0 {
		fields["src_port"], fields["dst_port"] = te.SrcPort, te.DstPort
	}
	if te.MTU != 0 {
		fields["mtu"] = te.MTU
	}
	s.obs.Publish(observe.Event{
		TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerICMP, Kind: observe.KindError,
		Summary: fmt.Sprintf("%s: %s error %s", te.Detail, hard, te.Errno.Name()),
		Explain: fmt.Sprintf("%s answered a %s datagram this host sent to %s with an ICMP error; it maps to %s, and %s", te.From, te.Proto, te.Dst, te.Errno.Name(), explain),
		RFC:     "RFC 1122 §3.2.2.1, §4.2.3.9",
		Fields:  fields,
	})
}

// publishICMP publishes an ICMP rx or tx event for h between src and dst.
func (s *Stack) publishICMP(now clock.Time, kind observe.Kind, h *wire.ICMPHeader, src, dst netip.Addr, verb, explain, rfc string) {
	if rfc == "" {
		rfc = "RFC 792"
	}
	from := "this host" // the route's address, chosen by the IPv4 layer
	if src.IsValid() {
		from = src.String()
	}
	fields := map[string]any{"type": uint8(h.Type), "code": h.Code, "src": from, "dst": dst.String(), "len": wire.ICMPHeaderLen + len(h.Data) + len(h.Quote)}
	switch h.Type {
	case wire.ICMPEchoRequest, wire.ICMPEchoReply, wire.ICMPTimestamp, wire.ICMPTimestampReply:
		fields["id"], fields["seq"] = h.ID, h.Seq
	}
	if h.Type == wire.ICMPDestinationUnreachable && h.Code == wire.ICMPFragmentationNeeded {
		fields["mtu"] = h.MTU
	}
	s.obs.Publish(observe.Event{
		TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerICMP, Kind: kind,
		Summary: fmt.Sprintf("%s %s, %s > %s", verb, h.String(), from, dst),
		Explain: explain, RFC: rfc, Fields: fields,
	})
}

// sendICMP sends an ICMP message with header h and data from src to dst.
// why explains the message for the trace and names the RFC section behind
// it; it is called only when someone listens. It returns the error of
// SendIPv4, which is also traced.
func (s *Stack) sendICMP(now clock.Time, src, dst netip.Addr, h *wire.ICMPHeader, data []byte, why func() (string, string)) error {
	return s.sendICMPOpts(now, dst, h, data, &SendOptions{Src: src}, why)
}

// sendICMPOpts is sendICMP with the caller's send options.
func (s *Stack) sendICMPOpts(now clock.Time, dst netip.Addr, h *wire.ICMPHeader, data []byte, o *SendOptions, why func() (string, string)) error {
	p := NewPacket(Headroom, wire.ICMPHeaderLen+len(data))
	msg := p.Payload()
	copy(msg[wire.ICMPHeaderLen:], data)
	if err := h.Marshal(msg); err != nil {
		return fmt.Errorf("icmp send: %w", err)
	}
	if s.obs.Active() {
		shown := *h
		if h.Type.IsError() {
			shown.Quote = msg[wire.ICMPHeaderLen:]
		} else {
			shown.Data = msg[wire.ICMPHeaderLen:]
		}
		explain, rfc := why()
		s.publishICMP(now, observe.KindTX, &shown, o.Src, dst, "sending", explain, rfc)
	}
	err := s.SendIPv4(now, dst, wire.ProtoICMP, p, o)
	if err != nil && s.obs.Active() {
		s.obs.Publish(observe.Event{
			TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerICMP, Kind: observe.KindError,
			Summary: fmt.Sprintf("could not send %s to %s: %v", h.Type, dst, err),
			Explain: "the IPv4 layer refused the ICMP message (no route, or the neighbour cannot be resolved)",
			Fields:  map[string]any{"type": uint8(h.Type), "code": h.Code, "dst": dst.String(), "error": err.Error()},
		})
	}
	return err
}
