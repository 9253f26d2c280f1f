package stack_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/wire"
)

// injectICMP sends an ICMP destination unreachable from the peer quoting a
// segment tipy sent (its IPv4 header and first 8 TCP bytes).
func (sc *scripted) injectICMP(code uint8, quoted capSeg) {
	sc.t.Helper()
	q := make([]byte, 28)
	ih := wire.IPv4Header{TTL: 64, Protocol: wire.ProtoTCP, Src: ttipyIP, Dst: tpeerIP}
	binary.BigEndian.PutUint16(q[20:], quoted.h.SrcPort)
	binary.BigEndian.PutUint16(q[22:], quoted.h.DstPort)
	binary.BigEndian.PutUint32(q[24:], quoted.h.Seq)
	full := make([]byte, 20+quoted.h.HeaderLen())
	copy(full[20:], q[20:])
	if err := ih.Marshal(full); err != nil {
		sc.t.Fatal(err)
	}
	copy(q[:20], full[:20])
	msg := make([]byte, 8+len(q))
	msg[0], msg[1] = byte(wire.ICMPDestinationUnreachable), code
	copy(msg[8:], q)
	binary.BigEndian.PutUint16(msg[2:], ^wire.Checksum(msg, 0))
	frame := make([]byte, 14+20+len(msg))
	copy(frame[34:], msg)
	oh := wire.IPv4Header{TTL: 64, Protocol: wire.ProtoICMP, Src: tpeerIP, Dst: ttipyIP}
	if err := oh.Marshal(frame[14:]); err != nil {
		sc.t.Fatal(err)
	}
	eh := wire.EthernetHeader{Dst: ttipyMAC, Src: tpeerMAC, Type: wire.EtherTypeIPv4}
	eh.Marshal(frame)
	sc.peer.Send(frame)
	sc.loop.RunFor(0)
}

func TestTCPICMPErrors(t *testing.T) {
	t.Run("port unreachable is hard", func(t *testing.T) {
		sc := newScripted(t, nil)
		so := sc.socket()
		so.Connect(netipPeer80())
		syn := sc.expect(fS, sc.firstSeq(), 0)
		sc.injectICMP(wire.ICMPPortUnreachable, syn)
		if err := so.Connect(netipPeer80()); errno(err) != stack.ECONNREFUSED {
			t.Fatalf("connect: %v, want ECONNREFUSED", err)
		}
	})
	t.Run("host unreachable is soft", func(t *testing.T) {
		sc := newScripted(t, func(c *stack.TCPConfig) { c.SYNRetries = 2 })
		so := sc.socket()
		so.Connect(netipPeer80())
		syn := sc.expect(fS, sc.firstSeq(), 0)
		sc.injectICMP(1, syn)
		if err := so.Connect(netipPeer80()); errno(err) != stack.EALREADY {
			t.Fatalf("connect right after a soft error: %v, want EALREADY", err)
		}
		sc.run(10 * time.Second)
		if err := so.Connect(netipPeer80()); errno(err) != stack.EHOSTUNREACH {
			t.Fatalf("connect after the retries: %v, want the soft error EHOSTUNREACH", err)
		}
	})
}

func TestTCPConnectUnreachable(t *testing.T) {
	sc := newScripted(t, nil)
	so := sc.socket()
	if err := so.Connect(netip.MustParseAddrPort("192.0.2.1:80")); errno(err) != stack.ENETUNREACH {
		t.Fatalf("connect off-link without a gateway: %v, want ENETUNREACH", err)
	}
	so = sc.socket()
	so.Connect(netip.MustParseAddrPort("10.0.0.99:80")) // no one answers ARP
	sc.run(10 * time.Second)
	if err := so.Connect(netip.MustParseAddrPort("10.0.0.99:80")); errno(err) != stack.EHOSTUNREACH {
		t.Fatalf("connect to a host that does not answer ARP: %v, want EHOSTUNREACH", err)
	}
}

func TestTCPKeepalive(t *testing.T) {
	sc := newScripted(t, nil)
	so, port, s, p := sc.connectActive(mss1000)
	so.SetSockopt(stack.SOL_SOCKET, stack.SO_KEEPALIVE, true)
	so.SetSockopt(stack.IPPROTO_TCP, stack.TCP_KEEPIDLE, 10)
	so.SetSockopt(stack.IPPROTO_TCP, stack.TCP_KEEPINTVL, 2)
	so.SetSockopt(stack.IPPROTO_TCP, stack.TCP_KEEPCNT, 3)
	t0 := sc.loop.Now()
	g := sc.expect(fA, s-1, p, withData(0))
	if g.at.Sub(t0) != 10*time.Second {
		t.Fatalf("first probe after %v, want 10s", g.at.Sub(t0))
	}
	// The peer answers: the connection is alive, the next probe waits a
	// whole idle time again.
	sc.inject(80, port, fA, p, s, 65535, noOpts, nil)
	g2 := sc.expect(fA, s-1, p)
	if g2.at.Sub(g.at) != 10*time.Second {
		t.Fatalf("probe after an answer came %v later, want 10s", g2.at.Sub(g.at))
	}
	// Silence: probes every 2 s, then the connection is dropped.
	sc.expect(fA, s-1, p, at(g2.at.Add(2*time.Second)))
	sc.expect(fA, s-1, p, at(g2.at.Add(4*time.Second)))
	sc.expect(fRA, s, p, at(g2.at.Add(6*time.Second)))
	if _, err := so.Recv(10); errno(err) != stack.ETIMEDOUT {
		t.Fatalf("recv: %v, want ETIMEDOUT", err)
	}
}

func TestTCPSynQueueFull(t *testing.T) {
	sc := newScripted(t, func(c *stack.TCPConfig) { c.DisableSYNCookies = true })
	ls := sc.socket()
	ls.Bind(netip.AddrPortFrom(netip.IPv4Unspecified(), 80))
	ls.Listen(2)
	for i := uint16(0); i < 3; i++ {
		sc.inject(4000+i, 80, fS, 1000, 0, 20000, mss1000, nil)
	}
	sc.expect(fSA, sc.firstSeq(), 1001)
	sc.expect(fSA, sc.firstSeq(), 1001)
	sc.expectNone(100 * time.Millisecond)
	var st stack.TCPStats
	sc.s.Call(func() { st = sc.s.TCPStats() })
	if st.Drops["tcp-syn-queue-full"] != 1 {
		t.Fatalf("drops %v", st.Drops)
	}
	// The half-open connections retransmit their SYN-ACK, then give up.
	sc.run(2 * time.Minute)
	if n := len(sc.conns()); n != 0 {
		t.Fatalf("%d half-open connections left", n)
	}
}

func TestTCPListenerCloseResetsQueued(t *testing.T) {
	sc := newScripted(t, nil)
	ls := sc.socket()
	ls.Bind(netip.AddrPortFrom(netip.IPv4Unspecified(), 80))
	ls.Listen(2)
	sc.inject(4000, 80, fS, 1000, 0, 20000, mss1000, nil)
	sa := sc.expect(fSA, sc.firstSeq(), 1001)
	sc.inject(4000, 80, fA, 1001, sa.h.Seq+1, 20000, noOpts, nil)
	ls.Close()
	sc.expect(fRA, sa.h.Seq+1, 1001)
	// The port is closed now.
	sc.inject(4001, 80, fS, 1000, 0, 20000, mss1000, nil)
	sc.expect(fRA, 0, 1001)
}

func TestTCPEventsAndSnapshot(t *testing.T) {
	sc := newScripted(t, nil)
	so, port, s, p := sc.connectActive(mss1000)
	so.Send([]byte("hello"))
	sc.expect(fPA, s, p)
	sc.inject(80, port, fA, p, s+5, 65535, noOpts, nil)
	var states, samples, timers, tx, rx int
	for _, e := range sc.ev.list {
		if e.Layer != observe.LayerTCP {
			continue
		}
		if e.Conn == "" {
			t.Fatalf("TCP event without Conn: %s", e.Summary)
		}
		switch e.Kind {
		case observe.KindState:
			states++
			if e.RFC == "" || e.Fields["from"] == nil || e.Fields["to"] == nil || e.Fields["trigger"] == nil {
				t.Fatalf("state event %+v", e)
			}
		case observe.KindSample:
			samples++
			for _, k := range []string{"cwnd", "ssthresh", "flight", "peer_window", "srtt_ms", "rto_ms"} {
				if _, ok := e.Fields[k]; !ok {
					t.Fatalf("sample without %s: %+v", k, e)
				}
			}
		case observe.KindTimer:
			timers++
		case observe.KindTX:
			tx++
			if e.Fields["analysis"] == nil {
				t.Fatalf("tx without analysis: %+v", e)
			}
		case observe.KindRX:
			rx++
		}
	}
	if states != 2 || samples == 0 || timers == 0 || tx != 3 || rx != 2 {
		t.Fatalf("states %d samples %d timers %d tx %d rx %d", states, samples, timers, tx, rx)
	}
	c := sc.conn()
	if c.SndUna != s+5 || c.SndNxt != s+5 || c.RcvNxt != p || c.BytesAcked != 5 || c.SegmentsOut != 3 || c.Congestion != "cubic" || c.Cwnd != 10000 {
		t.Fatalf("snapshot %+v", c)
	}
	b, err := json.Marshal(so.Info())
	if err != nil || !bytes.Contains(b, []byte(`"snd_una"`)) || !bytes.Contains(b, []byte(`"state":"ESTABLISHED"`)) {
		t.Fatalf("socket info JSON %s %v", b, err)
	}
}

func TestTCPCongestionOption(t *testing.T) {
	sc := newScripted(t, nil)
	so := sc.socket()
	if err := so.SetSockopt(stack.IPPROTO_TCP, stack.TCP_CONGESTION, "newreno"); err != nil {
		t.Fatal(err)
	}
	so.Connect(netipPeer80())
	syn := sc.expect(fS, sc.firstSeq(), 0)
	sc.inject(80, syn.h.SrcPort, fSA, 5000, syn.h.Seq+1, 65535, mss1000, nil)
	if c := sc.conn(); c.Congestion != "newreno" || c.Cwnd != 10000 {
		t.Fatalf("congestion %s cwnd %d", c.Congestion, c.Cwnd)
	}
}

func TestTCPBindErrors(t *testing.T) {
	sc := newScripted(t, nil)
	a := sc.socket()
	if err := a.Bind(netip.MustParseAddrPort("0.0.0.0:80")); err != nil {
		t.Fatal(err)
	}
	b := sc.socket()
	if err := b.Bind(netip.MustParseAddrPort("0.0.0.0:80")); errno(err) != stack.EADDRINUSE {
		t.Fatalf("second bind: %v, want EADDRINUSE", err)
	}
	if err := b.Bind(netip.MustParseAddrPort("10.9.9.9:81")); errno(err) != stack.EADDRNOTAVAIL {
		t.Fatalf("bind to a foreign address: %v, want EADDRNOTAVAIL", err)
	}
	if _, err := b.Send([]byte("x")); errno(err) != stack.ENOTCONN {
		t.Fatalf("send unconnected: %v, want ENOTCONN", err)
	}
	if _, err := b.Recv(1); errno(err) != stack.ENOTCONN {
		t.Fatalf("recv unconnected: %v, want ENOTCONN", err)
	}
	a.Listen(1)
	if err := a.Connect(netipPeer80()); errno(err) != stack.EINVAL {
		t.Fatalf("connect on a listener: %v", err)
	}
	c, _, _, _ := sc.connectActive(mss1000)
	if err := c.Connect(netipPeer80()); errno(err) != stack.EISCONN {
		t.Fatalf("second connect: %v, want EISCONN", err)
	}
}

func TestTCPLingerTimeout(t *testing.T) {
	sc := newScripted(t, nil)
	so, _, s, p := sc.connectActive(mss1000)
	so.SetSockopt(stack.SOL_SOCKET, stack.SO_LINGER, stack.Linger{On: true, Seconds: 2})
	so.Send([]byte("never acknowledged"))
	sc.expect(fPA, s, p)
	so.Close()
	// Retransmissions go on until the linger time; then the connection is
	// reset.
	deadline := sc.loop.Now().Add(3 * time.Second)
	for {
		g, ok := sc.next(3 * time.Second)
		if !ok || g.at > deadline {
			t.Fatal("no RST after the linger time")
		}
		if g.h.Flags&wire.TCPFlagRST != 0 {
			break
		}
	}
	if len(sc.conns()) != 0 {
		t.Fatal("connection left")
	}
}

func TestTCPFinWait2Timeout(t *testing.T) {
	sc := newScripted(t, func(c *stack.TCPConfig) { c.FinTimeout = 5 * time.Second })
	so, port, s, p := sc.connectActive(mss1000)
	so.Close()
	sc.expect(fFA, s, p)
	sc.inject(80, port, fA, p, s+1, 65535, noOpts, nil)
	if st := sc.conn().State; st != "FIN-WAIT-2" {
		t.Fatal(st)
	}
	sc.run(4 * time.Second)
	if len(sc.conns()) != 1 {
		t.Fatal("gone too early")
	}
	sc.run(2 * time.Second)
	if len(sc.conns()) != 0 {
		t.Fatal("an orphaned FIN-WAIT-2 must time out")
	}
}

func TestTCPNagle(t *testing.T) {
	for _, noDelay := range []bool{false, true} {
		sc := newScripted(t, nil)
		so, port, s, p := sc.connectActive(mss1000)
		so.SetSockopt(stack.IPPROTO_TCP, stack.TCP_NODELAY, noDelay)
		so.Send([]byte("first"))
		sc.expect(fPA, s, p, withData(5))
		so.Send([]byte("second"))
		so.Send([]byte("third"))
		if noDelay {
			sc.expect(fPA, s+5, p, withData(6))
			sc.expect(fPA, s+11, p, withData(5))
			continue
		}
		// Nagle (RFC 896): small data waits while data is unacknowledged,
		// then goes out coalesced.
		sc.expectNone(100 * time.Millisecond)
		sc.inject(80, port, fA, p, s+5, 65535, noOpts, nil)
		sc.expect(fPA, s+5, p, withData(11))
	}
}

func TestTCPSenderSWS(t *testing.T) {
	sc := newScripted(t, nil)
	so, port, s, p := sc.connectActive(mss1000)
	so.SetSockopt(stack.IPPROTO_TCP, stack.TCP_NODELAY, true)
	// The peer offered 65535 once; now only 300 bytes of room.
	sc.inject(80, port, fA, p, s, 300, noOpts, nil)
	so.Send(make([]byte, 2000))
	// 300 bytes is less than an MSS and less than half the largest window
	// the peer offered: sender SWS avoidance holds the data (RFC 9293
	// §3.8.6.2.1) until the override timeout (the persist timer) forces it.
	sc.expectNone(100 * time.Millisecond)
	sc.expect(fA, s, p, withData(300))
}

func TestTCPSYNCookies(t *testing.T) {
	sc := newScripted(t, nil)
	ls := sc.socket()
	ls.Bind(netip.AddrPortFrom(netip.IPv4Unspecified(), 80))
	ls.Listen(1)
	sc.inject(4000, 80, fS, 1000, 0, 20000, mss1000, nil)
	sc.expect(fSA, sc.firstSeq(), 1001)
	// The SYN queue is full: the next SYN gets a cookie and no state.
	full := wire.TCPOptions{MSS: 1300, HasMSS: true, HasWScale: true, WScale: 7, SACKPermitted: true, HasTS: true, TSVal: 5}
	sc.inject(4001, 80, fS, 7000, 0, 20000, full, nil)
	ck := sc.expect(fSA, sc.firstSeq(), 7001)
	o := ck.h.Options
	if !o.HasMSS || o.MSS != 1460 || o.HasWScale || o.HasTS || o.SACKPermitted {
		t.Fatalf("cookie SYN-ACK options %+v: MSS only", o)
	}
	if n := len(sc.conns()); n != 1 {
		t.Fatalf("%d connections: a cookie keeps no state", n)
	}
	// A forged ACK with a wrong cookie is reset.
	sc.inject(4001, 80, fA, 7001, ck.h.Seq+2, 20000, noOpts, nil)
	sc.expect(fR, ck.h.Seq+2, 0)
	// The right ACK creates the connection, with the data it carries.
	sc.inject(4001, 80, fPA, 7001, ck.h.Seq+1, 20000, noOpts, []byte("cookie"))
	c, peer, err := ls.Accept()
	if err != nil || peer.Port() != 4001 {
		t.Fatalf("accept: %v %v", peer, err)
	}
	c.SetTimeout(0)
	if b, _ := c.Recv(10); string(b) != "cookie" {
		t.Fatalf("recv %q", b)
	}
	var snap stack.TCPSnapshot
	for _, s := range sc.conns() {
		if s.Remote == "10.0.0.2:4001" {
			snap = s
		}
	}
	if snap.State != "ESTABLISHED" || snap.SndMSS != 1300 || snap.WindowScale || snap.Timestamps || snap.SACK {
		t.Fatalf("cookie connection %+v", snap)
	}
	var st stack.TCPStats
	sc.s.Call(func() { st = sc.s.TCPStats() })
	if st.SYNCookiesSent != 1 || st.SYNCookiesValid != 1 {
		t.Fatalf("stats %+v", st)
	}
	var lss []stack.TCPListener
	sc.s.Call(func() { lss = sc.s.TCPListeners() })
	if len(lss) != 1 || lss[0].Local != "0.0.0.0:80" || lss[0].SYNQueue != 1 || lss[0].SYNCookies != 1 {
		t.Fatalf("listeners %+v", lss)
	}
	// A cookie from two periods ago is stale.
	sc.run(time.Second)
	sc.got = nil
	sc.inject(4002, 80, fS, 9000, 0, 20000, mss1000, nil)
	old := sc.expect(fSA, sc.firstSeq(), 9001)
	sc.run(130 * time.Second)
	sc.got = nil
	sc.inject(4002, 80, fA, 9001, old.h.Seq+1, 20000, noOpts, nil)
	sc.expect(fR, old.h.Seq+1, 0)
}
