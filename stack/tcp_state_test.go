package stack_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/wire"
)

var noOpts wire.TCPOptions

// mss1000 is the peer's SYN-ACK option set of most scripted tests: MSS
// 1000 and nothing else, so sequence arithmetic stays simple.
var mss1000 = wire.TCPOptions{MSS: 1000, HasMSS: true}

func TestTCPSimultaneousOpen(t *testing.T) {
	sc := newScripted(t, nil)
	so := sc.socket()
	so.Connect(netip.AddrPortFrom(tpeerIP, 80))
	syn := sc.expect(fS, sc.firstSeq(), 0)
	port, iss := syn.h.SrcPort, syn.h.Seq
	// The peer's own SYN crosses ours.
	sc.inject(80, port, fS, 5000, 0, 65535, mss1000, nil)
	sc.expect(fSA, iss, 5001)
	if st := sc.conn().State; st != "SYN-RECEIVED" {
		t.Fatalf("state %s, want SYN-RECEIVED", st)
	}
	// The peer's SYN-ACK repeats its SYN and acknowledges ours: both ends
	// are ESTABLISHED without a further ACK (RFC 9293 figure 8).
	sc.inject(80, port, fSA, 5000, iss+1, 65535, mss1000, nil)
	if st := sc.conn().State; st != "ESTABLISHED" {
		t.Fatalf("state %s, want ESTABLISHED", st)
	}
	sc.expectNone(time.Second)
	if err := so.Connect(netip.AddrPortFrom(tpeerIP, 80)); err != nil {
		t.Fatalf("connect: %v", err)
	}
	if sc.ev.count("tipy", "tcp", "state", "") != 3 {
		t.Fatalf("want CLOSED→SYN-SENT→SYN-RECEIVED→ESTABLISHED\n%s", sc.ev.dump())
	}
}

func TestTCPRetransmittedSYNInSynReceived(t *testing.T) {
	sc := newScripted(t, nil)
	ls := sc.socket()
	ls.Bind(netip.AddrPortFrom(netip.IPv4Unspecified(), 80))
	ls.Listen(4)
	sc.inject(4000, 80, fS, 1000, 0, 20000, mss1000, nil)
	sa := sc.expect(fSA, sc.firstSeq(), 1001)
	sc.inject(4000, 80, fS, 1000, 0, 20000, mss1000, nil)
	sc.expect(fSA, sa.h.Seq, 1001)
	if n := len(sc.conns()); n != 1 {
		t.Fatalf("%d connections for one SYN", n)
	}
}

func TestTCPSimultaneousClose(t *testing.T) {
	sc := newScripted(t, nil)
	so, port, s, p := sc.connectActive(mss1000)
	so.Shutdown(stack.SHUT_WR)
	sc.expect(fFA, s, p)
	// The peer's FIN crosses ours and does not acknowledge it.
	sc.inject(80, port, fFA, p, s, 65535, noOpts, nil)
	sc.expect(fA, s+1, p+1)
	if st := sc.conn().State; st != "CLOSING" {
		t.Fatalf("state %s, want CLOSING", st)
	}
	sc.inject(80, port, fA, p+1, s+1, 65535, noOpts, nil)
	if st := sc.conn().State; st != "TIME-WAIT" {
		t.Fatalf("state %s, want TIME-WAIT", st)
	}
	sc.run(61 * time.Second)
	if len(sc.conns()) != 0 {
		t.Fatal("still there after 2*MSL")
	}
}

// toState drives an established connection into state and returns the
// sequence number a RST must carry (RCV.NXT).
func toState(t *testing.T, sc *scripted, so *stack.Socket, port uint16, s, p uint32, state string) uint32 {
	t.Helper()
	switch state {
	case "ESTABLISHED":
		return p
	case "FIN-WAIT-1", "FIN-WAIT-2", "CLOSING", "TIME-WAIT":
		so.Shutdown(stack.SHUT_WR)
		sc.expect(fFA, s, p)
		switch state {
		case "FIN-WAIT-2":
			sc.inject(80, port, fA, p, s+1, 65535, noOpts, nil)
		case "CLOSING":
			sc.inject(80, port, fFA, p, s, 65535, noOpts, nil)
			sc.expect(fA, s+1, p+1)
			return p + 1
		case "TIME-WAIT":
			sc.inject(80, port, fFA, p, s+1, 65535, noOpts, nil)
			sc.expect(fA, s+1, p+1)
			return p + 1
		}
		return p
	case "CLOSE-WAIT", "LAST-ACK":
		sc.inject(80, port, fFA, p, s, 65535, noOpts, nil)
		sc.expect(fA, s, p+1)
		if state == "LAST-ACK" {
			so.Shutdown(stack.SHUT_WR)
			sc.expect(fFA, s, p+1)
		}
		return p + 1
	}
	t.Fatalf("unknown state %s", state)
	return 0
}

func TestTCPResetInEveryState(t *testing.T) {
	for _, state := range []string{"ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT"} {
		t.Run(state, func(t *testing.T) {
			sc := newScripted(t, nil)
			so, port, s, p := sc.connectActive(mss1000)
			rst := toState(t, sc, so, port, s, p, state)
			if got := sc.conn().State; got != state {
				t.Fatalf("reached %s, want %s", got, state)
			}
			sc.inject(80, port, fR, rst, 0, 0, noOpts, nil)
			sc.expectNone(time.Second)
			if n := len(sc.conns()); n != 0 {
				t.Fatalf("connection survives a RST in %s", state)
			}
			_, err := so.Recv(10)
			want := stack.Errno(0)
			switch state {
			case "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT":
				want = stack.ECONNRESET
			}
			if errno(err) != want {
				t.Fatalf("recv after RST in %s: %v, want %v", state, err, want)
			}
			if want == stack.ECONNRESET {
				if _, err := so.Send([]byte("x")); errno(err) != stack.EPIPE {
					t.Fatalf("send after RST: %v, want EPIPE", err)
				}
			}
		})
	}
	t.Run("SYN-RECEIVED", func(t *testing.T) {
		sc := newScripted(t, nil)
		ls := sc.socket()
		ls.Bind(netip.AddrPortFrom(netip.IPv4Unspecified(), 80))
		ls.Listen(4)
		sc.inject(4000, 80, fS, 1000, 0, 20000, mss1000, nil)
		sc.expect(fSA, sc.firstSeq(), 1001)
		sc.inject(4000, 80, fR, 1001, 0, 0, noOpts, nil)
		if len(sc.conns()) != 0 {
			t.Fatal("a RST in SYN-RECEIVED must return to LISTEN")
		}
		// The listener still answers.
		sc.inject(4001, 80, fS, 1000, 0, 20000, mss1000, nil)
		sc.expect(fSA, sc.firstSeq(), 1001)
	})
}

func TestTCPChallengeACK(t *testing.T) {
	sc := newScripted(t, nil)
	_, port, s, p := sc.connectActive(mss1000)
	// A blind RST in the window but not at RCV.NXT.
	sc.inject(80, port, fR, p+100, 0, 0, noOpts, nil)
	sc.expect(fA, s, p)
	// A SYN on an established connection.
	sc.inject(80, port, fS, p+7, 0, 1000, noOpts, nil)
	sc.expect(fA, s, p)
	// A RST outside the window is dropped silently.
	sc.inject(80, port, fR, p+1<<30, 0, 0, noOpts, nil)
	sc.expectNone(time.Second)
	c := sc.conn()
	if c.State != "ESTABLISHED" || c.ChallengeACKs != 2 {
		t.Fatalf("state %s challenge ACKs %d", c.State, c.ChallengeACKs)
	}
}

func TestTCPChallengeACKRateLimit(t *testing.T) {
	sc := newScripted(t, func(c *stack.TCPConfig) { c.ChallengeACKs = 2 })
	_, port, s, p := sc.connectActive(mss1000)
	for i := 0; i < 4; i++ {
		sc.inject(80, port, fR, p+100, 0, 0, noOpts, nil)
	}
	sc.expect(fA, s, p)
	sc.expect(fA, s, p)
	sc.expectNone(100 * time.Millisecond)
	sc.run(time.Second)
	sc.inject(80, port, fR, p+100, 0, 0, noOpts, nil)
	sc.expect(fA, s, p)
}

func TestTCPTimeWait(t *testing.T) {
	sc := newScripted(t, func(c *stack.TCPConfig) { c.MSL = 10 * time.Second })
	so, port, s, p := sc.connectActive(mss1000)
	toState(t, sc, so, port, s, p, "TIME-WAIT")
	start := sc.loop.Now()
	sc.run(15 * time.Second)
	// The peer did not get our ACK and retransmits its FIN: ACK it again
	// and restart 2*MSL.
	sc.inject(80, port, fFA, p, s+1, 65535, noOpts, nil)
	sc.expect(fA, s+1, p+1)
	sc.run(10 * time.Second) // 25 s after entering TIME-WAIT: past the first 2*MSL
	if len(sc.conns()) != 1 || sc.conn().State != "TIME-WAIT" {
		t.Fatal("TIME-WAIT must restart on a retransmitted FIN")
	}
	restart := start.Add(15 * time.Second)
	sc.loop.RunUntil(restart.Add(20*time.Second - time.Millisecond))
	if len(sc.conns()) != 1 {
		t.Fatal("TIME-WAIT ended early")
	}
	sc.run(2 * time.Millisecond)
	if len(sc.conns()) != 0 {
		t.Fatal("TIME-WAIT did not end after 2*MSL")
	}
	// The port is closed now.
	sc.inject(80, port, fA, p+1, s+1, 65535, noOpts, nil)
	sc.expect(fR, s+1, 0)
}

func TestTCPHalfClose(t *testing.T) {
	sc := newScripted(t, nil)
	so, port, s, p := sc.connectActive(mss1000)
	if err := so.Shutdown(stack.SHUT_WR); err != nil {
		t.Fatal(err)
	}
	sc.expect(fFA, s, p)
	if _, err := so.Send([]byte("late")); errno(err) != stack.EPIPE {
		t.Fatalf("send after SHUT_WR: %v, want EPIPE", err)
	}
	sc.inject(80, port, fA, p, s+1, 65535, noOpts, nil)
	if st := sc.conn().State; st != "FIN-WAIT-2" {
		t.Fatal(st)
	}
	// The peer still sends.
	sc.inject(80, port, fPA, p, s+1, 65535, noOpts, []byte("still talking"))
	b, err := so.Recv(100)
	if err != nil || string(b) != "still talking" {
		t.Fatalf("recv %q %v", b, err)
	}
	sc.expect(fA, s+1, p+13)
	sc.inject(80, port, fFA, p+13, s+1, 65535, noOpts, nil)
	sc.expect(fA, s+1, p+14)
	b, err = so.Recv(100)
	if err != nil || len(b) != 0 {
		t.Fatalf("recv at EOF: %q %v", b, err)
	}
}

func TestTCPShutRead(t *testing.T) {
	sc := newScripted(t, nil)
	so, port, s, p := sc.connectActive(mss1000)
	so.Shutdown(stack.SHUT_RD)
	b, err := so.Recv(10)
	if err != nil || len(b) != 0 {
		t.Fatalf("recv after SHUT_RD: %q %v, want EOF", b, err)
	}
	// Data after SHUT_RD is acknowledged and discarded (as Linux).
	sc.inject(80, port, fPA, p, s, 65535, noOpts, []byte("ignored"))
	sc.expect(fA, s, p+7)
	if b, _ := so.Recv(10); len(b) != 0 {
		t.Fatal("data delivered after SHUT_RD")
	}
}

func TestTCPLingerZeroSendsRST(t *testing.T) {
	sc := newScripted(t, nil)
	so, _, s, p := sc.connectActive(mss1000)
	if err := so.SetSockopt(stack.SOL_SOCKET, stack.SO_LINGER, stack.Linger{On: true, Seconds: 0}); err != nil {
		t.Fatal(err)
	}
	so.Send([]byte("unsent data is thrown away"))
	sc.got = nil
	so.Close()
	// Whatever was queued, the close is an abort.
	for {
		g, ok := sc.next(time.Second)
		if !ok {
			t.Fatal("no RST")
		}
		if g.h.Flags&wire.TCPFlagRST != 0 {
			if g.h.Seq < s {
				t.Fatalf("RST seq %d", g.h.Seq)
			}
			break
		}
	}
	_ = p
	if len(sc.conns()) != 0 {
		t.Fatal("connection left after abort")
	}
}

func TestTCPGracefulCloseAfterClose(t *testing.T) {
	sc := newScripted(t, nil)
	so, port, s, p := sc.connectActive(mss1000)
	so.SetSockopt(stack.IPPROTO_TCP, stack.TCP_NODELAY, true)
	so.Send([]byte("bye"))
	so.Close()
	sc.expect(fPA, s, p, withData(3))
	sc.expect(fFA, s+3, p)
	sc.inject(80, port, fFA, p, s+4, 65535, noOpts, nil)
	sc.expect(fA, s+4, p+1)
	if st := sc.conn().State; st != "TIME-WAIT" {
		t.Fatal(st)
	}
}

func TestTCPDataAfterCloseResets(t *testing.T) {
	sc := newScripted(t, nil)
	so, port, s, p := sc.connectActive(mss1000)
	so.Close()
	sc.expect(fFA, s, p)
	sc.inject(80, port, fPA, p, s+1, 65535, noOpts, []byte("too late"))
	sc.expect(fRA, s+1, p)
	if len(sc.conns()) != 0 {
		t.Fatal("connection left")
	}
}
