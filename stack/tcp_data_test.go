package stack_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/wire"
)

func TestTCPDelayedACK(t *testing.T) {
	sc := newScripted(t, nil)
	_, port, s, p := sc.connectActive(mss1000)
	t0 := sc.loop.Now()
	sc.inject(80, port, fPA, p, s, 65535, noOpts, make([]byte, 100))
	sc.expect(fA, s, p+100, at(t0.Add(40*time.Millisecond)))
	// Two full-sized segments (our MSS is 1460): the second is ACKed at once.
	t1 := sc.loop.Now()
	sc.inject(80, port, fA, p+100, s, 65535, noOpts, make([]byte, 1460))
	sc.expectNone(time.Millisecond)
	sc.run(10 * time.Millisecond)
	t2 := sc.loop.Now()
	if t2.Sub(t1) != 10*time.Millisecond {
		t.Fatal(t2)
	}
	sc.inject(80, port, fA, p+1560, s, 65535, noOpts, make([]byte, 1460))
	sc.expect(fA, s, p+3020, at(t2))
}

func TestTCPDelayedACKConfigurable(t *testing.T) {
	sc := newScripted(t, func(c *stack.TCPConfig) { c.DelayedACK = time.Second })
	_, port, s, p := sc.connectActive(mss1000)
	t0 := sc.loop.Now()
	sc.inject(80, port, fPA, p, s, 65535, noOpts, make([]byte, 10))
	// Capped at 500 ms (RFC 9293 §3.8.6.3).
	sc.expect(fA, s, p+10, at(t0.Add(500*time.Millisecond)))
}

func TestTCPOutOfOrderSACK(t *testing.T) {
	sc := newScripted(t, nil)
	so, port, s, p := sc.connectActive(wire.TCPOptions{MSS: 1000, HasMSS: true, SACKPermitted: true})
	sc.inject(80, port, fA, p+100, s, 65535, noOpts, make([]byte, 100))
	sc.expect(fA, s, p, withSACK(wire.SACKBlock{Left: p + 100, Right: p + 200}))
	sc.inject(80, port, fA, p+300, s, 65535, noOpts, make([]byte, 100))
	sc.expect(fA, s, p, withSACK(wire.SACKBlock{Left: p + 300, Right: p + 400}, wire.SACKBlock{Left: p + 100, Right: p + 200}))
	// Filling the first gap is acknowledged at once.
	sc.inject(80, port, fA, p, s, 65535, noOpts, bytes.Repeat([]byte{'a'}, 100))
	sc.expect(fA, s, p+200, withSACK(wire.SACKBlock{Left: p + 300, Right: p + 400}))
	sc.inject(80, port, fA, p+200, s, 65535, noOpts, make([]byte, 100))
	sc.expect(fA, s, p+400, withSACK())
	b, err := so.Recv(1000)
	if err != nil || len(b) != 400 || b[0] != 'a' {
		t.Fatalf("recv %d bytes %v", len(b), err)
	}
}

func TestTCPFastRetransmit(t *testing.T) {
	sc := newScripted(t, nil)
	so, port, s, p := sc.connectActive(mss1000)
	so.SetSockopt(stack.IPPROTO_TCP, stack.TCP_NODELAY, true)
	so.Send(make([]byte, 5000))
	for i := uint32(0); i < 5; i++ {
		sc.expect(fA|flagPSHIf(i == 4), s+1000*i, p, withData(1000))
	}
	// The first segment was lost: three duplicate ACKs.
	sc.inject(80, port, fA, p, s, 65535, noOpts, nil)
	sc.inject(80, port, fA, p, s, 65535, noOpts, nil)
	sc.expectNone(time.Millisecond)
	sc.inject(80, port, fA, p, s, 65535, noOpts, nil)
	g := sc.expect(fA, s, p, withData(1000))
	if g.at.Sub(sc.loop.Now()) > time.Millisecond {
		t.Fatal("not at once")
	}
	c := sc.conn()
	if c.FastRetransmits != 1 || !c.InRecovery {
		t.Fatalf("snapshot %+v", c)
	}
	// A partial ACK retransmits the next hole (NewReno).
	sc.inject(80, port, fA, p, s+2000, 65535, noOpts, nil)
	sc.expect(fA, s+2000, p, withData(1000))
	sc.inject(80, port, fA, p, s+5000, 65535, noOpts, nil)
	if c := sc.conn(); c.InRecovery {
		t.Fatal("recovery did not end")
	}
	if sc.ev.count("tipy", "tcp", "info", "") == 0 {
		t.Fatal("no recovery events")
	}
}

func flagPSHIf(b bool) wire.TCPFlags {
	if b {
		return wire.TCPFlagPSH
	}
	return 0
}

func TestTCPSACKRecovery(t *testing.T) {
	sc := newScripted(t, nil)
	so, port, s, p := sc.connectActive(wire.TCPOptions{MSS: 1000, HasMSS: true, SACKPermitted: true})
	so.SetSockopt(stack.IPPROTO_TCP, stack.TCP_NODELAY, true)
	so.Send(make([]byte, 6000))
	for i := 0; i < 6; i++ {
		sc.next(time.Second)
	}
	// Segments 1 and 3 lost; the receiver SACKs the others.
	sack := func(blocks ...wire.SACKBlock) wire.TCPOptions {
		o := wire.TCPOptions{NumSACK: len(blocks)}
		copy(o.SACK[:], blocks)
		return o
	}
	sc.inject(80, port, fA, p, s, 65535, sack(wire.SACKBlock{Left: s + 1000, Right: s + 2000}), nil)
	sc.inject(80, port, fA, p, s, 65535, sack(wire.SACKBlock{Left: s + 3000, Right: s + 4000}, wire.SACKBlock{Left: s + 1000, Right: s + 2000}), nil)
	sc.inject(80, port, fA, p, s, 65535, sack(wire.SACKBlock{Left: s + 3000, Right: s + 5000}, wire.SACKBlock{Left: s + 1000, Right: s + 2000}), nil)
	sc.expect(fA, s, p, withData(1000))
	sc.inject(80, port, fA, p, s, 65535, sack(wire.SACKBlock{Left: s + 3000, Right: s + 6000}, wire.SACKBlock{Left: s + 1000, Right: s + 2000}), nil)
	// The scoreboard says the hole at s+2000 is lost too: it goes next,
	// without waiting for a partial ACK.
	sc.expect(fA, s+2000, p, withData(1000))
}

func TestTCPRTOBackoffAndKarn(t *testing.T) {
	sc := newScripted(t, nil)
	so, port, s, p := sc.connectActive(mss1000)
	c0 := sc.conn()
	if c0.RTOMS != 200 {
		t.Fatalf("RTO after a 0-RTT handshake %v ms, want the 200 ms minimum", c0.RTOMS)
	}
	so.Send(make([]byte, 500))
	first := sc.expect(fPA, s, p, withData(500))
	prev := first.at
	for i, d := range []time.Duration{200, 400, 800, 1600} {
		g := sc.expect(fPA, s, p, withData(500))
		if g.at.Sub(prev) != d*time.Millisecond {
			t.Fatalf("retransmission %d after %v, want %v", i+1, g.at.Sub(prev), d*time.Millisecond)
		}
		prev = g.at
	}
	c := sc.conn()
	if c.RTOMS != 3200 || c.Timeouts != 4 || c.Cwnd != 1000 {
		t.Fatalf("after 4 timeouts: RTO %v ms, timeouts %d, cwnd %d", c.RTOMS, c.Timeouts, c.Cwnd)
	}
	// The ACK answers a retransmitted segment: Karn's rule takes no sample,
	// and the backed-off RTO stays.
	sc.run(50 * time.Millisecond)
	sc.inject(80, port, fA, p, s+500, 65535, noOpts, nil)
	c = sc.conn()
	if c.SRTTMS != c0.SRTTMS || c.RTOMS != 3200 {
		t.Fatalf("Karn: SRTT %v → %v, RTO %v", c0.SRTTMS, c.SRTTMS, c.RTOMS)
	}
	// A segment sent once and acknowledged after 50 ms is a sample.
	so.Send(make([]byte, 100))
	sc.expect(fPA, s+500, p, withData(100))
	sc.run(50 * time.Millisecond)
	sc.inject(80, port, fA, p, s+600, 65535, noOpts, nil)
	c = sc.conn()
	if c.SRTTMS <= c0.SRTTMS || c.RTOMS != 200 {
		t.Fatalf("after a clean sample: SRTT %v, RTO %v ms", c.SRTTMS, c.RTOMS)
	}
}

func TestTCPRetriesGiveUp(t *testing.T) {
	sc := newScripted(t, func(c *stack.TCPConfig) { c.Retries = 3 })
	so, _, s, p := sc.connectActive(mss1000)
	so.Send(make([]byte, 10))
	for i := 0; i < 4; i++ {
		sc.expect(fPA, s, p)
	}
	sc.expect(fRA, s+10, p)
	if _, err := so.Recv(10); errno(err) != stack.ETIMEDOUT {
		t.Fatalf("recv: %v, want ETIMEDOUT", err)
	}
}

func TestTCPPAWS(t *testing.T) {
	sc := newScripted(t, nil)
	so, port, s, p := sc.connectActive(wire.TCPOptions{MSS: 1000, HasMSS: true, HasTS: true, TSVal: 100})
	ts := func(v uint32) wire.TCPOptions { return wire.TCPOptions{HasTS: true, TSVal: v, TSEcr: 1} }
	sc.inject(80, port, fPA, p, s, 65535, ts(200), []byte("new"))
	sc.expect(fA, s, p+3)
	// An old duplicate from a previous trip around the sequence space: its
	// sequence number is fine but its timestamp is older.
	sc.inject(80, port, fPA, p+3, s, 65535, ts(150), []byte("old"))
	g := sc.expect(fA, s, p+3)
	if g.h.Options.TSEcr != 200 {
		t.Fatalf("TSecr %d, want TS.Recent 200", g.h.Options.TSEcr)
	}
	b, _ := so.Recv(10)
	if string(b) != "new" {
		t.Fatalf("recv %q", b)
	}
	var st stack.TCPStats
	sc.s.Call(func() { st = sc.s.TCPStats() })
	if st.Drops["tcp-paws"] != 1 {
		t.Fatalf("drops %v", st.Drops)
	}
	// A RST is not subject to PAWS.
	sc.inject(80, port, fR, p+3, 0, 0, ts(1), nil)
	if len(sc.conns()) != 0 {
		t.Fatal("RST with an old timestamp must still reset")
	}
}

func TestTCPZeroWindowPersist(t *testing.T) {
	sc := newScripted(t, nil)
	so, port, s, p := sc.connectActive(mss1000)
	sc.inject(80, port, fA, p, s, 0, noOpts, nil)
	if c := sc.conn(); c.SndWnd != 0 {
		t.Fatal(c.SndWnd)
	}
	t0 := sc.loop.Now()
	so.Send(make([]byte, 300))
	prev := t0
	for i, d := range []time.Duration{200, 400, 800, 1600} {
		g := sc.expect(fA, s-1, p, withData(0))
		if g.at.Sub(prev) != d*time.Millisecond {
			t.Fatalf("probe %d after %v, want %v", i+1, g.at.Sub(prev), d*time.Millisecond)
		}
		prev = g.at
		sc.inject(80, port, fA, p, s, 0, noOpts, nil) // still closed
	}
	if c := sc.conn(); c.Probes != 4 || c.State != "ESTABLISHED" {
		t.Fatalf("snapshot %+v", c)
	}
	// The window opens: the data goes.
	sc.inject(80, port, fA, p, s, 1000, noOpts, nil)
	sc.expect(fPA, s, p, withData(300))
}

func TestTCPReceiveWindowAndUpdate(t *testing.T) {
	sc := newScripted(t, nil)
	so, err := sc.s.Socket(0, stack.SOCK_STREAM, 0)
	_ = so
	if errno(err) != stack.EAFNOSUPPORT {
		t.Fatal(err)
	}
	so = sc.socket()
	so.SetSockopt(stack.SOL_SOCKET, stack.SO_RCVBUF, 4096)
	so.Connect(netipPeer80())
	syn := sc.expect(fS, sc.firstSeq(), 0)
	if syn.h.Options.WScale != 0 || syn.h.Window != 4096 {
		t.Fatalf("SYN for a 4 KiB buffer: wscale %d window %d", syn.h.Options.WScale, syn.h.Window)
	}
	port, s := syn.h.SrcPort, syn.h.Seq+1
	sc.inject(80, port, fSA, 5000, s, 65535, mss1000, nil)
	sc.expect(fA, s, 5001, withWindow(4096))
	p := uint32(5001)
	// Fill the buffer: the window closes.
	sc.inject(80, port, fA, p, s, 65535, noOpts, make([]byte, 1000))
	sc.inject(80, port, fA, p+1000, s, 65535, noOpts, make([]byte, 1000))
	sc.inject(80, port, fA, p+2000, s, 65535, noOpts, make([]byte, 1000))
	sc.inject(80, port, fA, p+3000, s, 65535, noOpts, make([]byte, 1096))
	sc.run(time.Second)
	var last capSeg
	for len(sc.got) > 0 {
		last, _ = sc.next(0)
	}
	if last.h.Ack != p+4096 || last.h.Window != 0 {
		t.Fatalf("last ACK %s: want ack %d window 0", last, p+4096)
	}
	// Data beyond the window is not taken.
	sc.inject(80, port, fA, p+4096, s, 65535, noOpts, []byte("x"))
	sc.expect(fA, s, p+4096, withWindow(0))
	// Reading a little does not reopen the window (receiver SWS avoidance)...
	so.Recv(100)
	sc.expectNone(time.Second)
	// ...reading half the buffer does, with a window update.
	so.Recv(2000)
	sc.expect(fA, s, p+4096, withWindow(2100))
}

// TestTCPWindowAfterSYNACK is a regression test: our SYN's window was once
// recorded against RCV.NXT = 0, so a peer ISN just below 2^32 made the first
// window we advertised after the handshake larger than the buffer.
func TestTCPWindowAfterSYNACK(t *testing.T) {
	for _, piss := range []uint32{5000, 0xffff0000, 0x7fff0000} {
		sc := newScripted(t, nil)
		so := sc.socket()
		so.SetSockopt(stack.SOL_SOCKET, stack.SO_RCVBUF, 4096)
		so.Connect(netipPeer80())
		syn := sc.expect(fS, sc.firstSeq(), 0)
		sc.inject(80, syn.h.SrcPort, fSA, piss, syn.h.Seq+1, 65535, mss1000, nil)
		sc.expect(fA, syn.h.Seq+1, piss+1, withWindow(4096))
		if c := sc.conn(); c.RcvWnd != 4096 {
			t.Fatalf("peer ISN %#x: RCV.WND %d, want 4096", piss, c.RcvWnd)
		}
	}
}
