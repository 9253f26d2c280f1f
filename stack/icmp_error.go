package stack

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// ICMP errors this host sends (RFC 792, RFC 1122 §3.2.2, RFC 1812 §4.3.2).
//
// The layers call icmpError when a datagram cannot be delivered: an unknown
// protocol, a closed UDP port, a TTL that ran out while forwarding, no route,
// a datagram too big for the next link with DF set, a reassembly that timed
// out. Before anything is sent, the rules of RFC 1122 §3.2.2 and RFC 1812
// §4.3.2.7 are checked, because an error about the wrong datagram can start
// storms of errors about errors, or let one broadcast draw an answer from
// every host of a network. No error is sent about:
//
//   - an ICMP error message (errors about echo requests and other queries are
//     fine), nor about an ICMP message of a type this host does not know,
//     which may be an error type defined later (as Linux does);
//   - a datagram sent to a broadcast or multicast address;
//   - a fragment other than the first, which does not hold the header of the
//     transport the error would be about;
//   - a datagram whose source is not one host: 0.0.0.0, a broadcast or
//     multicast address, or a loopback address arriving from a network.
//
// (RFC 1122 also forbids errors about datagrams sent as link-layer
// broadcasts; the Datagram does not carry the Ethernet destination yet.)
//
// Errors that pass are rate-limited by a token bucket on the stack's clock
// (RFC 1812 §4.3.2.8): IPv4Config.ICMPBurst errors may go back to back, then
// one per IPv4Config.ICMPRateLimit. Like Linux, fragmentation needed is not
// limited, because path MTU discovery depends on it. The message quotes the
// original IPv4 header and as much of its data as keeps the whole ICMP
// datagram within 576 bytes (RFC 1812 §4.3.2.3; RFC 792 asks for only 8
// bytes of data), comes from the address the original was sent to when that
// is ours (else from the outgoing interface), with TTL 64.

// Defaults of the ICMP error rate limit (see IPv4Config).
const (
	DefaultICMPRateLimit = 100 * time.Millisecond
	DefaultICMPBurst     = 10
)

// icmpErrorMaxLen is the largest IPv4 datagram carrying an ICMP error: every
// host must accept 576 bytes (RFC 1812 §4.3.2.3, RFC 791).
const icmpErrorMaxLen = 576

// icmpQuoteMax is the most of the original datagram an error quotes: 576
// minus our 20-byte IPv4 header and the 8-byte ICMP header.
const icmpQuoteMax = icmpErrorMaxLen - wire.IPv4MinHeaderLen - wire.ICMPHeaderLen

// icmpMaxKnownType is the highest ICMP type Linux classifies (address mask
// reply); an unknown type above it might be an error, so it draws none.
const icmpMaxKnownType = wire.ICMPAddressMaskReply

// tokenBucket is the rate limiter of the errors we send: it holds up to a
// burst of tokens, gains one per interval, and each error spends one.
type tokenBucket struct {
	tokens int
	last   clock.Time // when tokens were last refilled
	primed bool       // the bucket starts full at its first use
}

// allow reports whether an error may be sent at now, spending a token if so.
// A non-positive every means no limit.
func (b *tokenBucket) allow(now clock.Time, every time.Duration, burst int) bool {
	if every <= 0 {
		return true
	}
	if !b.primed {
		b.tokens, b.last, b.primed = burst, now, true
	}
	if now > b.last {
		if n := int64(now.Sub(b.last) / every); n > 0 {
			if int64(b.tokens)+n >= int64(burst) {
				b.tokens, b.last = burst, now
			} else {
				b.tokens += int(n)
				b.last = b.last.Add(time.Duration(n) * every)
			}
		}
	}
	if b.tokens <= 0 {
		return false
	}
	b.tokens--
	return true
}

// icmpRate returns the rate limit of ICMP errors from the configuration: a
// token every limit, burst at most. Zero fields take the defaults; a
// negative ICMPRateLimit turns the limit off.
func (s *Stack) icmpRate() (every time.Duration, burst int) {
	every, burst = s.cfg.IPv4.ICMPRateLimit, s.cfg.IPv4.ICMPBurst
	if every == 0 {
		every = DefaultICMPRateLimit
	}
	if burst <= 0 {
		burst = DefaultICMPBurst
	}
	return every, burst
}

// icmpError sends an ICMP error of type typ and code about the received
// datagram d, unless a rule of RFC 1122 §3.2.2 forbids it or the rate limit
// is reached; each such decision is counted and traced. param is the
// next-hop MTU for fragmentation needed, the pointer for parameter problem,
// the gateway (as a big-endian uint32) for redirect. Loop work only.
func (s *Stack) icmpError(now clock.Time, d *Datagram, typ wire.ICMPType, code uint8, param uint32) {
	h := d.Header
	if !h.Src.IsValid() {
		var err error
		if h, err = wire.ParseIPv4(d.Raw); err != nil {
			s.dropDatagram(now, observe.LayerICMP, ReasonICMPNoError, d, "the datagram to report is not a valid IPv4 datagram: "+err.Error())
			return
		}
	}
	what := icmpErrorName(typ, code)
	if why := s.icmpErrorForbidden(d, &h); why != "" {
		s.dropDatagram(now, observe.LayerICMP, ReasonICMPNoError, d, fmt.Sprintf("no %s to %s: %s", what, h.Src, why))
		return
	}
	every, burst := s.icmpRate()
	exempt := typ == wire.ICMPDestinationUnreachable && code == wire.ICMPFragmentationNeeded
	if !exempt && !s.icmpSt().bucket.allow(now, every, burst) {
		s.dropDatagram(now, observe.LayerICMP, ReasonICMPRateLimited, d,
			fmt.Sprintf("no %s to %s: more than %d errors in a row, one more allowed every %v", what, h.Src, burst, every))
		return
	}
	msg := wire.ICMPHeader{Type: typ, Code: code}
	switch {
	case typ == wire.ICMPDestinationUnreachable && code == wire.ICMPFragmentationNeeded:
		msg.MTU = uint16(min(param, 0xffff))
	case typ == wire.ICMPParameterProblem:
		msg.Pointer = uint8(min(param, 0xff))
	case typ == wire.ICMPRedirect:
		var g [4]byte
		binary.BigEndian.PutUint32(g[:], param)
		msg.Gateway = netip.AddrFrom4(g)
	}
	quote := d.Raw[:min(len(d.Raw), icmpQuoteMax)]
	o := &SendOptions{TTL: DefaultTTL}
	if s.isOwnAddr(h.Dst) {
		o.Src = h.Dst // RFC 1812 §4.3.2.4 allows it; a host answers from the address that was asked
	}
	why := func() (string, string) { return icmpErrorWhy(d, &h, typ, code, param) }
	s.sendICMPOpts(now, h.Src, &msg, quote, o, why)
}

// icmpErrorForbidden returns why no ICMP error may be sent about d, or ""
// when one may.
func (s *Stack) icmpErrorForbidden(d *Datagram, h *wire.IPv4Header) string {
	if d.LinkBroadcast {
		return "the datagram came as a link-layer broadcast or multicast, and an error to every host that sent such frames could flood the network (RFC 1122 §3.2.2)"
	}
	if h.FragOff != 0 {
		return fmt.Sprintf("the datagram is a fragment at offset %d, not the first one, so it does not hold the header the error would be about (RFC 1122 §3.2.2)", h.FragOff)
	}
	if h.Protocol == wire.ProtoICMP {
		payload := d.Raw[min(len(d.Raw), int(wire.IPv4(d.Raw).HeaderLen())):]
		if len(payload) == 0 {
			return "the datagram is an ICMP message too short to tell whether it is an error (RFC 1122 §3.2.2)"
		}
		if t := wire.ICMPType(payload[0]); t.IsError() {
			return fmt.Sprintf("the datagram is itself an ICMP error (%s); errors about errors could loop forever (RFC 1122 §3.2.2)", t)
		} else if t > icmpMaxKnownType {
			return fmt.Sprintf("the datagram is an ICMP message of unknown type %d, which may be an error type, and errors about errors could loop forever (RFC 1122 §3.2.2)", uint8(t))
		}
	}
	if d.Broadcast || d.Multicast || h.Dst.IsMulticast() || h.Dst == limitedBroadcast || s.isDirectedBroadcast(h.Dst) {
		return fmt.Sprintf("the datagram was sent to %s, a broadcast or multicast address; if every receiver answered, one datagram could flood the sender (RFC 1122 §3.2.2)", h.Dst)
	}
	if why := icmpBadSource(h.Src, s); why != "" {
		return why
	}
	return ""
}

// isDirectedBroadcast reports whether a is the directed broadcast address
// of one of the stack's networks.
func (s *Stack) isDirectedBroadcast(a netip.Addr) bool {
	for _, ifc := range s.ifaces {
		if b := directedBroadcast(ifc.addr); b.IsValid() && a == b {
			return true
		}
	}
	return false
}

// icmpBadSource returns why an error cannot go to src, which must name one
// host (RFC 1122 §3.2.2, RFC 1812 §4.3.2.7), or "".
func icmpBadSource(src netip.Addr, s *Stack) string {
	switch {
	case !src.Is4() || src.IsUnspecified():
		return fmt.Sprintf("the source %s names no host, so there is nobody to tell (RFC 1122 §3.2.2)", src)
	case src == limitedBroadcast || src.IsMulticast() || s.isDirectedBroadcast(src):
		return fmt.Sprintf("the source %s is a broadcast or multicast address, not one host (RFC 1122 §3.2.2)", src)
	case src.IsLoopback():
		return fmt.Sprintf("the source %s is a loopback address, which cannot come from a network (RFC 1122 §3.2.1.3)", src)
	}
	return ""
}

// icmpErrorName names an error in words: "ICMP port unreachable".
func icmpErrorName(typ wire.ICMPType, code uint8) string {
	switch typ {
	case wire.ICMPDestinationUnreachable:
		names := [...]string{"network unreachable", "host unreachable", "protocol unreachable", "port unreachable",
			"fragmentation needed", "source route failed", "destination network unknown", "destination host unknown",
			"source host isolated", "network administratively prohibited", "host administratively prohibited",
			"network unreachable for TOS", "host unreachable for TOS", "communication administratively prohibited",
			"host precedence violation", "precedence cutoff"}
		if int(code) < len(names) {
			return "ICMP " + names[code]
		}
		return fmt.Sprintf("ICMP destination unreachable (code %d)", code)
	case wire.ICMPTimeExceeded:
		if code == wire.ICMPReassemblyExceeded {
			return "ICMP time exceeded (fragment reassembly)"
		}
		return "ICMP time exceeded (TTL)"
	}
	return fmt.Sprintf("ICMP %s (code %d)", typ, code)
}

// icmpErrorWhy explains in plain words why the error is sent, and names the
// RFC section behind it.
func icmpErrorWhy(d *Datagram, h *wire.IPv4Header, typ wire.ICMPType, code uint8, param uint32) (string, string) {
	switch typ {
	case wire.ICMPDestinationUnreachable:
		switch code {
		case wire.ICMPPortUnreachable:
			q := wire.ParseICMPQuote(d.Raw)
			if q.HasPorts {
				return fmt.Sprintf("no program listens on %s port %d of this host, so it tells the sender %s with ICMP port unreachable", h.Protocol, q.DstPort, h.Src), "RFC 1122 §4.1.3.1, RFC 792"
			}
			return fmt.Sprintf("no program listens on the destination port, so this host tells the sender %s with ICMP port unreachable", h.Src), "RFC 1122 §4.1.3.1, RFC 792"
		case wire.ICMPProtocolUnreachable:
			return fmt.Sprintf("no layer and no raw socket of this host handles IP protocol %d (%s), so it tells the sender %s with ICMP protocol unreachable", uint8(h.Protocol), h.Protocol, h.Src), "RFC 1122 §3.2.2.1, RFC 792"
		case wire.ICMPNetUnreachable:
			return fmt.Sprintf("this router has no route to %s, so it discards the datagram and tells the sender %s with ICMP network unreachable", h.Dst, h.Src), "RFC 1812 §5.2.7.1"
		case wire.ICMPHostUnreachable:
			return fmt.Sprintf("%s cannot be reached on its network (no answer to ARP), so the sender %s is told with ICMP host unreachable", h.Dst, h.Src), "RFC 1812 §5.2.7.1"
		case wire.ICMPFragmentationNeeded:
			return fmt.Sprintf("the datagram is %d bytes, more than the next link's MTU of %d, and its DF bit forbids fragmenting it, so the sender %s is told the MTU to use (path MTU discovery)", h.TotalLen, param, h.Src), "RFC 1191 §4, RFC 1812 §5.2.7.1"
		}
	case wire.ICMPTimeExceeded:
		if code == wire.ICMPReassemblyExceeded {
			return fmt.Sprintf("not every fragment of datagram id %d from %s arrived within the reassembly time, so the pieces are discarded and the sender is told with ICMP time exceeded", h.ID, h.Src), "RFC 792, RFC 1122 §3.3.2"
		}
		return fmt.Sprintf("the datagram from %s to %s arrived with TTL %d and would leave with none, so this router discards it and tells the sender with ICMP time exceeded; traceroute finds each router of a path this way", h.Src, h.Dst, h.TTL), "RFC 792, RFC 1812 §5.3.1"
	case wire.ICMPParameterProblem:
		return fmt.Sprintf("octet %d of the header from %s holds a value this host cannot process, so it discards the datagram and tells the sender with ICMP parameter problem", param, h.Src), "RFC 792, RFC 1122 §3.2.2.5"
	}
	return fmt.Sprintf("the datagram from %s cannot be delivered, so the sender is told with %s", h.Src, icmpErrorName(typ, code)), "RFC 792"
}

// ICMPErrno maps an ICMP error to the socket error it gives a program and
// says whether it is hard: a hard error means the datagram can never get
// through as sent, a soft one may be a passing routing problem.
//
// The errno values are Linux's (icmp_err_convert): port unreachable
// ECONNREFUSED; protocol unreachable ENOPROTOOPT; network unreachable and its
// variants ENETUNREACH; host unreachable, its variants, administratively
// prohibited and time exceeded EHOSTUNREACH; fragmentation needed EMSGSIZE;
// source route failed EOPNOTSUPP; destination host unknown EHOSTDOWN;
// parameter problem EPROTO. Hard and soft follow RFC 1122 §4.2.3.9:
// destination unreachable codes 2 to 4 (protocol, port, fragmentation
// needed) are hard, everything else is soft. It reports EOK for a message
// that is not an error a program sees (source quench, redirect, queries).
func ICMPErrno(typ wire.ICMPType, code uint8) (errno Errno, hard bool) {
	switch typ {
	case wire.ICMPDestinationUnreachable:
		hard = code == wire.ICMPProtocolUnreachable || code == wire.ICMPPortUnreachable || code == wire.ICMPFragmentationNeeded
		switch code {
		case wire.ICMPNetUnreachable, wire.ICMPDestNetUnknown, wire.ICMPNetProhibited, wire.ICMPNetUnreachableForTOS:
			return ENETUNREACH, hard
		case wire.ICMPProtocolUnreachable:
			return ENOPROTOOPT, hard
		case wire.ICMPPortUnreachable:
			return ECONNREFUSED, hard
		case wire.ICMPFragmentationNeeded:
			return EMSGSIZE, hard
		case wire.ICMPSourceRouteFailed:
			return EOPNOTSUPP, hard
		case wire.ICMPDestHostUnknown:
			return EHOSTDOWN, hard
		}
		return EHOSTUNREACH, hard // host unreachable, its variants, prohibited, unknown codes
	case wire.ICMPTimeExceeded:
		return EHOSTUNREACH, false
	case wire.ICMPParameterProblem:
		return EPROTO, false
	}
	return EOK, false
}

// icmpTransportError builds the TransportError of error h from from, whose
// quote q names a datagram this host sent.
func icmpTransportError(from netip.Addr, h *wire.ICMPHeader, q wire.ICMPQuote) *TransportError {
	te := &TransportError{From: from, Type: h.Type, Code: h.Code, Proto: q.Protocol, Src: q.Src, Dst: q.Dst}
	if q.HasPorts {
		te.SrcPort, te.DstPort = q.SrcPort, q.DstPort
	}
	te.Errno, te.Hard = ICMPErrno(h.Type, h.Code)
	if h.Type == wire.ICMPDestinationUnreachable && h.Code == wire.ICMPFragmentationNeeded {
		te.MTU = int(h.MTU)
	}
	te.Detail = fmt.Sprintf("%s from %s", icmpErrorName(h.Type, h.Code), from)
	if h.Type == wire.ICMPDestinationUnreachable && h.Code == wire.ICMPFragmentationNeeded {
		te.Detail += fmt.Sprintf(" (next-hop MTU %d)", h.MTU)
	}
	return te
}
