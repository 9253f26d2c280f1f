package stack

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/seqnum"
	"github.com/tipy/tipy/stack/tcp"
	"github.com/tipy/tipy/stack/wire"
)

// TCP (RFC 9293): the layer. A received segment is validated once (header,
// options, checksum), then demultiplexed: to the connection of its exact
// 4-tuple, else to a listener on its destination address and port (or the
// wildcard address), else it meets a closed port and is answered with a
// reset (§3.10.7.1). Connections live in tcp_conn.go, their state machine
// in tcp_state.go and tcp_input.go.

// TCPConfig tunes the TCP layer of a stack. Zero fields take the defaults.
type TCPConfig struct {
	MSL            time.Duration // maximum segment lifetime; TIME-WAIT lasts 2*MSL (default 30 s)
	SYNRetries     int           // SYN retransmissions before connect fails with ETIMEDOUT (default 6, as Linux)
	SYNACKRetries  int           // SYN-ACK retransmissions before a half-open connection is dropped (default 5)
	Retries        int           // data retransmissions before the connection is aborted (default 15, as Linux tcp_retries2)
	DelayedACK     time.Duration // delayed-ACK timer (default 40 ms; at most 500 ms, RFC 9293 §3.8.6.3)
	MinRTO         time.Duration // lower bound of the RTO (default 200 ms)
	MaxRTO         time.Duration // upper bound of the RTO (default 120 s)
	InitialRTO     time.Duration // RTO before any sample (default 1 s, RFC 6298 (2.1))
	ChallengeACKs  int           // challenge ACKs allowed per second (RFC 5961 §7; default 1000)
	MaxPersist     time.Duration // largest interval between zero-window probes (default 60 s)
	FinTimeout     time.Duration // how long a closed socket waits in FIN-WAIT-2 for the peer's FIN (default 60 s, as Linux tcp_fin_timeout)
	DefaultBacklog int           // backlog when Listen is given 0 or less (default 128)
	DisableSACK    bool          // do not offer SACK-permitted
	DisableTS      bool          // do not offer timestamps
	DisableWScale  bool          // do not offer window scaling
	// DisableSYNCookies drops SYNs that find the SYN queue full instead of
	// answering them with a SYN cookie (RFC 4987 §3.6).
	DisableSYNCookies bool
}

func (c TCPConfig) withDefaults() TCPConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.MSL, 30*time.Second)
	def(&c.DelayedACK, 40*time.Millisecond)
	if c.DelayedACK > 500*time.Millisecond {
		c.DelayedACK = 500 * time.Millisecond
	}
	def(&c.MinRTO, 200*time.Millisecond)
	def(&c.MaxRTO, 120*time.Second)
	def(&c.InitialRTO, time.Second)
	def(&c.MaxPersist, 60*time.Second)
	def(&c.FinTimeout, 60*time.Second)
	if c.SYNRetries <= 0 {
		c.SYNRetries = 6
	}
	if c.SYNACKRetries <= 0 {
		c.SYNACKRetries = 5
	}
	if c.Retries <= 0 {
		c.Retries = 15
	}
	if c.ChallengeACKs <= 0 {
		c.ChallengeACKs = 1000
	}
	if c.DefaultBacklog <= 0 {
		c.DefaultBacklog = 128
	}
	return c
}

// tcpTuple names a connection: local and remote address and port.
type tcpTuple struct {
	local, remote netip.AddrPort
}

// tcpLayer is the TCP state of one stack.
type tcpLayer struct {
	s         *Stack
	cfg       TCPConfig
	conns     map[tcpTuple]*tcpConn
	listeners map[netip.AddrPort]*tcpListener
	ports     map[uint16]int // local port -> number of sockets and connections holding it
	secret    [16]byte       // RFC 6528 F() key
	order     []*tcpConn     // connections in creation order, for snapshots
	nextID    uint64

	// RFC 5961 §7 challenge-ACK limit, shared by all connections.
	chalWindow clock.Time
	chalCount  int

	stats TCPStats
}

// TCPStats are the TCP layer's counters.
type TCPStats struct {
	SegmentsIn      uint64            `json:"segments_in"`
	SegmentsOut     uint64            `json:"segments_out"`
	Retransmissions uint64            `json:"retransmissions"`
	ResetsSent      uint64            `json:"resets_sent"`
	ResetsReceived  uint64            `json:"resets_received"`
	ActiveOpens     uint64            `json:"active_opens"`
	PassiveOpens    uint64            `json:"passive_opens"`
	ChallengeACKs   uint64            `json:"challenge_acks"`
	SYNCookiesSent  uint64            `json:"syn_cookies_sent"`
	SYNCookiesValid uint64            `json:"syn_cookies_valid"`
	Drops           map[string]uint64 `json:"drops"` // by tcp drop reason
}

// initTCP registers TCP as protocol 6, its ICMP error handler and the
// SOCK_STREAM socket type.
func (s *Stack) initTCP() {
	l := &tcpLayer{
		s: s, cfg: TCPConfig{}.withDefaults(),
		conns:     make(map[tcpTuple]*tcpConn),
		listeners: make(map[netip.AddrPort]*tcpListener),
		ports:     make(map[uint16]int),
	}
	l.stats.Drops = make(map[string]uint64)
	binary.LittleEndian.PutUint64(l.secret[:8], s.rng.Uint64())
	binary.LittleEndian.PutUint64(l.secret[8:], s.rng.Uint64())
	s.tcpL = l
	s.HandleProtocol(wire.ProtoTCP, l.input)
	s.HandleTransportError(wire.ProtoTCP, l.transportError)
	s.RegisterSocketType(SOCK_STREAM, l.newSocket)
}

// tcpl returns the stack's TCP layer.
func (s *Stack) tcpl() *tcpLayer { return s.tcpL }

// SetTCPConfig changes the TCP tuning of the stack; connections opened
// afterwards use it. Loop work only (or before the loop runs).
func (s *Stack) SetTCPConfig(c TCPConfig) { s.tcpl().cfg = c.withDefaults() }

// TCPConfig returns the TCP tuning in use, defaults filled in.
func (s *Stack) TCPConfig() TCPConfig { return s.tcpl().cfg }

// TCPStats returns a copy of the TCP layer's counters. Loop work only.
func (s *Stack) TCPStats() TCPStats {
	l := s.tcpl()
	st := l.stats
	st.Drops = make(map[string]uint64, len(l.stats.Drops))
	for k, v := range l.stats.Drops {
		st.Drops[k] = v
	}
	return st
}

// isn returns the initial sequence number for a connection, RFC 6528 §3:
// ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M a
// timer ticking every 4 µs taken from now, F a keyed hash (SHA-256 here),
// so that ISNs of one 4-tuple increase and those of others are unguessable.
func (l *tcpLayer) isn(now clock.Time, t tcpTuple) seqnum.Value {
	m := uint32(int64(now) / 4000)
	return seqnum.Value(m + l.hash32(t, 0))
}

// hash32 is F() of RFC 6528 with a salt (0 for ISNs, 1 for timestamp
// offsets).
func (l *tcpLayer) hash32(t tcpTuple, salt byte) uint32 {
	var b [16 + 12 + 1]byte
	copy(b[:16], l.secret[:])
	la, ra := t.local.Addr().As4(), t.remote.Addr().As4()
	copy(b[16:], la[:])
	binary.BigEndian.PutUint16(b[20:], t.local.Port())
	copy(b[22:], ra[:])
	binary.BigEndian.PutUint16(b[26:], t.remote.Port())
	b[28] = salt
	sum := sha256.Sum256(b[:])
	return binary.BigEndian.Uint32(sum[:4])
}

// ephemeralPort picks a free local port in 32768–60999: a random start
// from the seeded source, then the next free one.
func (l *tcpLayer) ephemeralPort() (uint16, error) {
	n := EphemeralLast - EphemeralFirst + 1
	start := l.s.rng.IntN(n)
	for i := 0; i < n; i++ {
		p := uint16(EphemeralFirst + (start+i)%n)
		if l.ports[p] == 0 {
			return p, nil
		}
	}
	return 0, sockErr("bind", "", EADDRINUSE, "every ephemeral port (32768-60999) is in use")
}

func (l *tcpLayer) holdPort(p uint16) { l.ports[p]++ }

func (l *tcpLayer) releasePort(p uint16) {
	if l.ports[p] > 1 {
		l.ports[p]--
	} else {
		delete(l.ports, p)
	}
}

// addConn lists a connection under its 4-tuple.
func (l *tcpLayer) addConn(c *tcpConn) {
	l.conns[tcpTuple{c.local, c.remote}] = c
	l.order = append(l.order, c)
}

// removeConn forgets a closed connection.
func (l *tcpLayer) removeConn(c *tcpConn) {
	k := tcpTuple{c.local, c.remote}
	if l.conns[k] == c {
		delete(l.conns, k)
	}
	for i, o := range l.order {
		if o == c {
			l.order = append(l.order[:i], l.order[i+1:]...)
			break
		}
	}
}

// tcpSegment is a received segment, validated, with the RFC's names.
type tcpSegment struct {
	hdr   wire.TCPHeader
	seq   seqnum.Value
	ack   seqnum.Value
	flags wire.TCPFlags
	wnd   uint16
	data  []byte
	src   netip.AddrPort
	dst   netip.AddrPort
	raw   []byte   // the IPv4 datagram, for drop events
	wire  wire.TCP // the segment as received, for events
}

// len is SEG.LEN: data plus one for SYN and one for FIN.
func (g *tcpSegment) len() seqnum.Size {
	n := seqnum.Size(len(g.data))
	if g.flags&wire.TCPFlagSYN != 0 {
		n++
	}
	if g.flags&wire.TCPFlagFIN != 0 {
		n++
	}
	return n
}

func (g *tcpSegment) has(f wire.TCPFlags) bool { return g.flags&f != 0 }

// input receives one TCP segment from IPv4.
func (l *tcpLayer) input(now clock.Time, d *Datagram) {
	v := wire.TCP(d.Payload)
	hdr, err := wire.ParseTCP(d.Payload)
	if err != nil {
		l.drop(now, nil, tcpDropMalformed, d.Raw, err.Error())
		return
	}
	if d.Broadcast || d.Multicast {
		l.drop(now, nil, tcpDropNotUnicast, d.Raw, fmt.Sprintf("to %s", d.Header.Dst))
		return
	}
	if !v.ChecksumValid(d.Header.Src, d.Header.Dst) {
		detail := "checksum"
		if err := v.VerifyChecksum(d.Header.Src, d.Header.Dst); err != nil {
			detail = err.Error()
		}
		l.drop(now, nil, tcpDropBadChecksum, d.Raw, detail)
		return
	}
	l.stats.SegmentsIn++
	seg := &tcpSegment{
		hdr: hdr, seq: seqnum.Value(hdr.Seq), ack: seqnum.Value(hdr.Ack), flags: hdr.Flags, wnd: hdr.Window,
		data: v.Payload(), src: netip.AddrPortFrom(d.Header.Src, hdr.SrcPort),
		dst: netip.AddrPortFrom(d.Header.Dst, hdr.DstPort), raw: d.Raw, wire: v,
	}
	if c := l.conns[tcpTuple{seg.dst, seg.src}]; c != nil {
		c.segmentArrives(now, seg)
		return
	}
	if ls := l.listenerFor(seg.dst); ls != nil {
		ls.segmentArrives(now, seg)
		return
	}
	l.closedPort(now, seg)
}

// listenerFor returns the listener for a destination: bound to its address,
// else to the wildcard address.
func (l *tcpLayer) listenerFor(dst netip.AddrPort) *tcpListener {
	if ls := l.listeners[dst]; ls != nil {
		return ls
	}
	return l.listeners[netip.AddrPortFrom(netip.IPv4Unspecified(), dst.Port())]
}

// closedPort answers a segment for which no connection and no listener
// exists, RFC 9293 §3.10.7.1: a RST is never answered; otherwise, without
// ACK, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, with ACK <SEQ=SEG.ACK><CTL=RST>.
func (l *tcpLayer) closedPort(now clock.Time, seg *tcpSegment) {
	l.publishSegment(now, nil, observe.KindRX, seg, "no connection or listener: the port is closed", "RFC 9293 §3.10.7.1")
	if seg.has(wire.TCPFlagRST) {
		l.drop(now, nil, tcpDropRSTClosed, seg.raw, fmt.Sprintf("RST to closed port %d", seg.dst.Port()))
		return
	}
	l.drop(now, nil, tcpDropNoSocket, seg.raw, fmt.Sprintf("port %d", seg.dst.Port()))
	l.sendResetFor(now, seg, "the port is closed")
}

// sendResetFor sends the reset that answers seg when no connection can take
// it (§3.10.7.1 and the "not acceptable ACK" cases of LISTEN and SYN-SENT).
func (l *tcpLayer) sendResetFor(now clock.Time, seg *tcpSegment, why string) {
	if seg.has(wire.TCPFlagRST) {
		return // never answer a reset with a reset
	}
	if seg.has(wire.TCPFlagACK) {
		l.sendReset(now, nil, seg.dst, seg.src, seg.ack, 0, wire.TCPFlagRST, why)
	} else {
		l.sendReset(now, nil, seg.dst, seg.src, 0, seg.seq.Add(seg.len()), wire.TCPFlagRST|wire.TCPFlagACK, why)
	}
}

// sendReset sends a bare reset segment from local to remote.
func (l *tcpLayer) sendReset(now clock.Time, c *tcpConn, local, remote netip.AddrPort, seq, ack seqnum.Value, flags wire.TCPFlags, why string) {
	h := wire.TCPHeader{SrcPort: local.Port(), DstPort: remote.Port(), Seq: uint32(seq), Ack: uint32(ack), Flags: flags}
	l.stats.ResetsSent++
	l.transmit(now, c, local.Addr(), remote.Addr(), &h, "reset: "+why, nil)
}

// transmit sends a segment without data.
func (l *tcpLayer) transmit(now clock.Time, c *tcpConn, src, dst netip.Addr, h *wire.TCPHeader, analysis string, opts *SendOptions) error {
	return l.transmitN(now, c, src, dst, h, nil, 0, 0, analysis, opts)
}

// transmitN builds a segment with header h and n bytes of payload copied
// once from buf at offset off, and sends it through IPv4.
func (l *tcpLayer) transmitN(now clock.Time, c *tcpConn, src, dst netip.Addr, h *wire.TCPHeader, buf *tcp.Buffer, off, n int, analysis string, opts *SendOptions) error {
	s := l.s
	if !src.IsValid() || src.IsUnspecified() {
		_, _, a, err := s.RouteTo(now, dst, opts)
		if err != nil {
			return err
		}
		src = a
	}
	p := s.dp.packet(Headroom, n)
	defer s.dp.releasePacket(p)
	if n > 0 && buf != nil {
		buf.Peek(off, p.Payload())
	}
	seg := p.Prepend(h.HeaderLen())
	if err := h.Marshal(seg, src, dst); err != nil {
		return err
	}
	l.stats.SegmentsOut++
	if c != nil {
		c.segsOut++
	}
	if s.obs.Active() {
		l.publishTX(now, c, src, dst, wire.TCP(seg), analysis)
	}
	return s.SendIPv4(now, dst, wire.ProtoTCP, p, opts)
}

// challengeAllowed applies the RFC 5961 §7 limit on challenge ACKs.
func (l *tcpLayer) challengeAllowed(now clock.Time) bool {
	if now.Sub(l.chalWindow) >= time.Second {
		l.chalWindow, l.chalCount = now, 0
	}
	if l.chalCount >= l.cfg.ChallengeACKs {
		return false
	}
	l.chalCount++
	return true
}

// transportError receives ICMP errors about segments we sent (RFC 1122
// §4.2.3.9): hard errors abort a connection that is still opening, soft
// errors are remembered and reported if the connection later times out.
// Fragmentation needed lowers the MSS (RFC 1191).
func (l *tcpLayer) transportError(now clock.Time, e *TransportError) {
	c := l.conns[tcpTuple{netip.AddrPortFrom(e.Src, e.SrcPort), netip.AddrPortFrom(e.Dst, e.DstPort)}]
	if c == nil {
		if l.s.obs.Active() {
			l.s.obs.Publish(observe.Event{TimeNS: int64(now), Host: l.s.cfg.Name, Layer: observe.LayerTCP, Kind: observe.KindInfo,
				Summary: "ICMP error matches no connection: " + e.Detail, RFC: "RFC 1122 §4.2.3.9"})
		}
		return
	}
	c.icmpError(now, e)
}
