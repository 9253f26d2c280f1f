package stack

import (
	"net/netip"
	"time"

	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/seqnum"
	"github.com/tipy/tipy/stack/tcp"
	"github.com/tipy/tipy/stack/wire"
)

// tcpConn is a Transmission Control Block (RFC 9293 §3.3.1) with the RFC's
// names for its variables. It belongs to its stack's loop.
type tcpConn struct {
	l      *tcpLayer
	so     *Socket      // nil while a passive connection waits to be accepted
	parent *tcpListener // the listener of a passive open, until accepted
	id     string       // "A:p-B:q", the Conn of every event
	serial uint64

	local, remote netip.AddrPort
	state         TCPState
	stateSince    clock.Time
	passive       bool // opened by a listener (RFC 9293 §3.10.7.4: SYN-RECEIVED returns to LISTEN)

	// Send sequence variables (§3.3.1).
	iss    seqnum.Value // initial send sequence number
	sndUna seqnum.Value // oldest unacknowledged sequence number
	sndNxt seqnum.Value // next sequence number to send
	sndMax seqnum.Value // highest sequence number sent + 1 (SND.NXT before a go-back after an RTO)
	sndWnd uint32       // send window: the peer's window, scaled
	sndWl1 seqnum.Value // segment sequence number used for the last window update
	sndWl2 seqnum.Value // segment acknowledgment number used for the last window update
	maxWnd uint32       // largest window the peer ever offered (sender SWS, §3.8.6.2.1)
	sndBuf *tcp.Buffer  // bytes from SND.UNA (or ISS+1) on, kept until acknowledged
	bufSeq seqnum.Value // sequence number of sndBuf's first byte
	finQd  bool         // the application closed its side: a FIN follows the data
	finSeq seqnum.Value // sequence number of our FIN, when finQd
	sndMSS int          // the peer's MSS (536 when it sent none), RFC 9293 §3.7.1
	rcvMSS int          // the MSS we announced: interface MTU - 40

	// Receive sequence variables.
	irs      seqnum.Value // initial receive sequence number
	rcvNxt   seqnum.Value // next sequence number expected
	rcvAdv   seqnum.Value // right edge of the window last advertised (never moved left)
	synWnd   uint16       // the window of our SYN or SYN-ACK
	rcvBuf   *tcp.Buffer  // in-order data not yet read
	ooo      *tcp.ReassemblyQueue
	finRcvd  bool         // the peer's FIN was processed
	finPend  bool         // a FIN arrived beyond RCV.NXT and waits for the gap to fill
	finAt    seqnum.Value // sequence number of that FIN
	rdShut   bool         // SHUT_RD: later data is acknowledged and discarded
	wrShut   bool         // SHUT_WR or close: no more sends
	userGone bool         // the application closed the socket

	// Options (RFC 7323, RFC 2018).
	sndWndScale, rcvWndScale uint8
	wsOK, tsOK, sackOK       bool
	tsRecent                 uint32     // TS.Recent, RFC 7323 §4.3
	tsRecentAge              clock.Time // when TS.Recent was set (PAWS 24-day rule, §5.5)
	tsOffset                 uint32     // per-connection offset of TSval (RFC 7323 §5.4)
	lastAckSent              seqnum.Value
	offered                  wire.TCPOptions // the options of our SYN or SYN-ACK
	peerSyn                  wire.TCPOptions // the options of the peer's SYN

	// Congestion control, RTT and recovery.
	cc         tcp.CongestionControl
	rtt        *tcp.RTTEstimator
	sb         *tcp.Scoreboard
	rttTiming  bool // a segment is being timed (RFC 6298 §3, one at a time)
	rttSeq     seqnum.Value
	rttStart   clock.Time
	synRetrans bool // the SYN or SYN-ACK was retransmitted (RFC 6298 (5.7))
	dupAcks    int
	synTries   int // SYN or SYN-ACK retransmissions so far
	ltBytes    int // bytes sent by limited transmit since the last new ACK (RFC 3042)
	inRecovery bool
	sackRecov  bool // the recovery uses the scoreboard (RFC 6675)
	recover    seqnum.Value
	rtoTSval   uint32         // TSval of the last retransmission after an RTO
	rtoSacked  []tcpSACKBlock // what the peer had SACKed when the last RTO fired
	backoffs   int            // consecutive RTO expiries without progress
	lastSend   clock.Time

	// Delayed ACK (RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2).
	ackPending int    // full-sized segments received and not yet acknowledged
	ackNow     bool   // an ACK must go out at the next output
	ackWhy     string // why, for the ACK's event (the first reason given)
	maxSegIn   int    // largest data segment received, for "full-sized"

	// Keepalive and persist.
	keepProbes   int
	persistShift int
	lastRecv     clock.Time

	// IPv4 send options, cached (sendOpts).
	ipOpts    *SendOptions
	ipOptsFor *Socket

	// Timers.
	rtxT, delackT, persistT, keepT, twT, lingerT, finT *tcpTimer

	// Errors for the socket.
	err     error // a hard error (ECONNREFUSED, ECONNRESET, ETIMEDOUT...) for the next call
	softErr error // the last soft ICMP error, reported if the connection times out
	reset   bool  // the peer reset the connection

	// Connect bookkeeping.
	connecting bool
	connDone   bool

	// Counters for the snapshot.
	segsIn, segsOut, retrans, dupAcksIn, bytesAcked, bytesRcvd uint64
	oooSegs, challenges, probes, rtoCount, fastRetrans         uint64

	last sampleValues // the values of the last "sample" event
}

// newConn builds the TCB of a connection from local to remote with a fresh
// ISS. Buffers are sized from the socket options.
func (l *tcpLayer) newConn(now clock.Time, local, remote netip.AddrPort, opts *sockOpts) *tcpConn {
	l.nextID++
	c := &tcpConn{l: l, local: local, remote: remote, serial: l.nextID, stateSince: now, lastRecv: now}
	c.id = local.String() + "-" + remote.String()
	t := tcpTuple{local, remote}
	c.iss = l.isn(now, t)
	c.tsOffset = l.hash32(t, 1)
	c.sndUna, c.sndNxt, c.sndMax = c.iss, c.iss, c.iss
	c.bufSeq = c.iss.Add(1)
	c.sndBuf = l.s.dp.tcpBuffers().NewBuffer(opts.sndBuf)
	c.rcvBuf = l.s.dp.tcpBuffers().NewBuffer(opts.rcvBuf)
	c.ooo = tcp.NewReassemblyQueue(opts.rcvBuf, 0)
	c.rcvMSS = l.mssFor(now, remote.Addr(), opts)
	c.sndMSS = 536
	c.rcvWndScale = windowScaleFor(opts.rcvBuf)
	name := opts.congestion
	if name == "" {
		name = l.s.congestion
	}
	c.cc = newCongestion(name, c.sndMSS)
	cfg := l.cfg
	c.rtt = tcp.NewRTTEstimator(tcp.RTTConfig{MinRTO: cfg.MinRTO, MaxRTO: cfg.MaxRTO, InitialRTO: cfg.InitialRTO})
	c.sb = tcp.NewScoreboard(c.iss, c.sndMSS)
	c.initTimers()
	return c
}

// newCongestion returns the congestion control named by TCP_CONGESTION.
func newCongestion(name string, mss int) tcp.CongestionControl {
	if name == "newreno" || name == "reno" {
		return tcp.NewNewReno(mss)
	}
	return tcp.NewCubic(mss)
}

// mssFor is the MSS to announce: the MTU of the route's interface less 40
// bytes of IPv4 and TCP headers (RFC 9293 §3.7.1), or TCP_MAXSEG if smaller.
func (l *tcpLayer) mssFor(now clock.Time, dst netip.Addr, opts *sockOpts) int {
	mtu := l.s.MTU()
	if ifc, _, _, err := l.s.RouteTo(now, dst, nil); err == nil {
		mtu = ifc.MTU()
	}
	mss := mtu - 40
	if opts.maxSeg > 0 && opts.maxSeg < mss {
		mss = opts.maxSeg
	}
	return mss
}

// windowScaleFor is the smallest shift that lets a 16-bit window field
// describe a receive buffer of n bytes (RFC 7323 §2.2), at most 14.
func windowScaleFor(n int) uint8 {
	var s uint8
	for s < 14 && n > 0xffff<<s {
		s++
	}
	return s
}

// effMSS is the data a full-sized segment carries: the peer's MSS less the
// options every segment carries (timestamps), RFC 9293 §3.7.1.
func (c *tcpConn) effMSS() int {
	m := c.sndMSS
	if c.tsOK {
		m -= 12
	}
	return max(m, 1)
}

// flight is the number of bytes sent and not yet acknowledged.
func (c *tcpConn) flight() int { return int(c.sndMax.Sub(c.sndUna)) }

// dataEnd is the sequence number after the last byte the application wrote.
func (c *tcpConn) dataEnd() seqnum.Value { return c.bufSeq.Add(seqnum.Size(c.sndBuf.Len())) }

// finAcked reports whether our FIN was sent and acknowledged.
func (c *tcpConn) finAcked() bool {
	return c.finQd && c.sndUna.GreaterThan(c.finSeq)
}

// tsNow is TSval: a 1 ms clock derived from now plus the connection's
// offset (RFC 7323 §5.4).
func (c *tcpConn) tsNow(now clock.Time) uint32 {
	return uint32(int64(now)/int64(time.Millisecond)) + c.tsOffset
}

// wake tells the socket's waiters to look again.
func (c *tcpConn) wake() {
	if c.so != nil {
		c.so.wake()
	}
	if c.parent != nil && c.parent.so != nil {
		c.parent.so.wake()
	}
}

// established runs when the connection reaches ESTABLISHED.
func (c *tcpConn) established(now clock.Time) {
	c.rtxT.stop(now, "handshake complete")
	if c.synRetrans && c.rtt.Samples() == 0 {
		c.rtt.RestartAfterSYNLoss()
	}
	c.cc.SetMSS(c.effMSS())
	c.sb.Reset(c.sndUna, c.effMSS())
	c.armKeepalive(now)
	if c.parent != nil {
		c.parent.handshakeDone(now, c)
	}
}

// closed runs when the connection reaches CLOSED: timers stop, the
// connection leaves the demux table and its port is released.
func (c *tcpConn) closed(now clock.Time) {
	for _, t := range c.timers() {
		t.stop(now, "connection closed")
	}
	c.l.removeConn(c)
	c.l.releasePort(c.local.Port())
	if c.parent != nil {
		c.parent.forget(c)
	}
}

// abort ends the connection at once with err for the socket; with sendRST
// a reset tells the peer (RFC 9293 §3.10.5 ABORT).
func (c *tcpConn) abort(now clock.Time, err error, sendRST bool, trigger, rfc string) {
	if c.state == TCPClosed {
		return
	}
	if sendRST && c.state >= TCPSynReceived && c.state != TCPTimeWait {
		c.l.sendReset(now, c, c.local, c.remote, c.sndNxt, c.rcvNxt, wire.TCPFlagRST|wire.TCPFlagACK, trigger)
	}
	if err != nil && c.err == nil {
		c.err = err
	}
	c.sndBuf.Reset()
	c.ooo.Reset()
	c.setState(now, TCPClosed, trigger, rfc)
}

// icmpError handles an ICMP error about one of our segments (RFC 1122
// §4.2.3.9, RFC 5927): during the handshake a hard error ends connect with
// its errno; otherwise errors are soft, kept to explain a later timeout.
// Fragmentation needed lowers the MSS to fit the next-hop MTU (RFC 1191).
func (c *tcpConn) icmpError(now clock.Time, e *TransportError) {
	if e.MTU > 0 && e.Errno == EMSGSIZE {
		if mss := e.MTU - 40; mss >= 88 && mss < c.sndMSS {
			c.sndMSS = mss
			c.cc.SetMSS(c.effMSS())
			c.sb.SetSMSS(c.effMSS())
		}
		return
	}
	err := sockErr("connect", c.remote.String(), e.Errno, e.Detail)
	if c.state == TCPSynSent && e.Hard {
		c.abort(now, err, false, "ICMP error during the handshake: "+e.Detail, "RFC 1122 §4.2.3.9")
		return
	}
	c.softErr = err
	if c.l.s.obs.Active() {
		c.publishInfo(now, "soft error remembered: "+e.Detail,
			"an ICMP error does not end an established connection; it is reported only if the connection later times out",
			"RFC 1122 §4.2.3.9", nil)
	}
}
