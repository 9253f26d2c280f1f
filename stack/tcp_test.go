package stack_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/wire"
)

func TestTCPResetFromClosedPort(t *testing.T) {
	sc := newScripted(t, nil)
	// Without ACK: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; the SYN counts one.
	sc.inject(4000, 81, fS, 1000, 0, 1000, wire.TCPOptions{}, nil)
	sc.expect(fRA, 0, 1001)
	// With data and without ACK: the data counts.
	sc.inject(4000, 81, fP, 1000, 0, 1000, wire.TCPOptions{}, []byte("hello"))
	sc.expect(fRA, 0, 1005)
	// With ACK: <SEQ=SEG.ACK><CTL=RST>.
	sc.inject(4000, 81, fA, 1000, 777, 1000, wire.TCPOptions{}, nil)
	sc.expect(fR, 777, 0)
	// A RST is never answered.
	sc.inject(4000, 81, fR, 1000, 0, 0, wire.TCPOptions{}, nil)
	sc.expectNone(time.Second)
	var st stack.TCPStats
	sc.s.Call(func() { st = sc.s.TCPStats() })
	if st.Drops["tcp-no-socket"] != 3 || st.Drops["tcp-rst-closed"] != 1 || st.ResetsSent != 3 {
		t.Fatalf("stats %+v", st)
	}
	if sc.ev.count("tipy", "tcp", "drop", "tcp-no-socket") != 3 {
		t.Fatal("drops not published")
	}
}

func TestTCPHandshakeOptions(t *testing.T) {
	all := wire.TCPOptions{MSS: 1000, HasMSS: true, WScale: 5, HasWScale: true, SACKPermitted: true, HasTS: true, TSVal: 100}
	cases := []struct {
		name     string
		peer     wire.TCPOptions
		mss      int
		ws, ts   bool
		sack     bool
		sndScale uint8
	}{
		{"none", wire.TCPOptions{}, 536, false, false, false, 0},
		{"mss", wire.TCPOptions{MSS: 1200, HasMSS: true}, 1200, false, false, false, 0},
		{"mss+ws", wire.TCPOptions{MSS: 1200, HasMSS: true, WScale: 3, HasWScale: true}, 1200, true, false, false, 3},
		{"mss+ts", wire.TCPOptions{MSS: 1200, HasMSS: true, HasTS: true, TSVal: 9}, 1200, false, true, false, 0},
		{"mss+sack", wire.TCPOptions{MSS: 1200, HasMSS: true, SACKPermitted: true}, 1200, false, false, true, 0},
		{"all", all, 1000, true, true, true, 5},
		{"huge scale", wire.TCPOptions{MSS: 9000, HasMSS: true, WScale: 20, HasWScale: true}, 1460, true, false, false, 14},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sc := newScripted(t, nil)
			so := sc.socket()
			so.Connect(netip.AddrPortFrom(tpeerIP, 80))
			syn, ok := sc.next(time.Second)
			if !ok {
				t.Fatal("no SYN")
			}
			o := syn.h.Options
			if syn.h.Flags != fS || !o.HasMSS || o.MSS != 1460 || !o.HasWScale || !o.SACKPermitted || !o.HasTS || o.TSEcr != 0 {
				t.Fatalf("SYN %s: want MSS 1460, wscale, SACK-permitted, timestamps", syn)
			}
			if syn.h.Window != 65535 {
				t.Fatalf("SYN window %d: a SYN's window is never scaled", syn.h.Window)
			}
			peer := tc.peer
			if peer.HasTS {
				peer.TSEcr = o.TSVal
			}
			sc.inject(80, syn.h.SrcPort, fSA, 5000, syn.h.Seq+1, 30000, peer, nil)
			// Our window: 256 KiB of buffer, scaled by 3 when scaling is on.
			wantWnd := uint16(65535)
			if tc.ws {
				wantWnd = 256 << 10 >> 3
			}
			ack := sc.expect(fA, syn.h.Seq+1, 5001, withWindow(wantWnd))
			if ack.h.Options.HasTS != tc.ts {
				t.Fatalf("ACK timestamps %v, want %v", ack.h.Options.HasTS, tc.ts)
			}
			if tc.ts && ack.h.Options.TSEcr != peer.TSVal {
				t.Fatalf("TSecr %d, want %d", ack.h.Options.TSEcr, peer.TSVal)
			}
			c := sc.conn()
			if c.State != "ESTABLISHED" || c.SndMSS != tc.mss || c.WindowScale != tc.ws || c.Timestamps != tc.ts || c.SACK != tc.sack || c.SndWndScale != tc.sndScale {
				t.Fatalf("snapshot %+v", c)
			}
			if c.SndWnd != 30000 {
				t.Fatalf("SND.WND %d: the SYN-ACK's window is not scaled", c.SndWnd)
			}
			if !tc.ws && c.RcvWndScale != 0 {
				t.Fatal("our scale must be 0 when the peer did not offer one")
			}
			// The window field of later segments is scaled.
			sc.inject(80, syn.h.SrcPort, fA, 5001, syn.h.Seq+1, 100, wire.TCPOptions{HasTS: tc.ts, TSVal: peer.TSVal + 1, TSEcr: o.TSVal}, nil)
			c = sc.conn()
			if want := uint32(100) << tc.sndScale; c.SndWnd != want {
				t.Fatalf("SND.WND %d after a window of 100, want %d", c.SndWnd, want)
			}
			// Data segments respect the peer's MSS less the timestamp option.
			big := make([]byte, 5000)
			sc.inject(80, syn.h.SrcPort, fA, 5001, syn.h.Seq+1, 65535, wire.TCPOptions{HasTS: tc.ts, TSVal: peer.TSVal + 2, TSEcr: o.TSVal}, nil)
			if _, err := so.Send(big); err != nil {
				t.Fatal(err)
			}
			g, _ := sc.next(time.Second)
			want := tc.mss
			if tc.ts {
				want -= 12
			}
			if len(g.data) != want {
				t.Fatalf("first data segment %d bytes, want %d", len(g.data), want)
			}
		})
	}
}

func TestTCPPassiveOpenAndAccept(t *testing.T) {
	sc := newScripted(t, nil)
	ls := sc.socket()
	if err := ls.Bind(netip.AddrPortFrom(netip.IPv4Unspecified(), 80)); err != nil {
		t.Fatal(err)
	}
	if err := ls.Listen(4); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ls.Accept(); errno(err) != stack.EAGAIN {
		t.Fatalf("accept with nothing queued: %v", err)
	}
	sc.inject(4000, 80, fS, 1000, 0, 20000, wire.TCPOptions{MSS: 1400, HasMSS: true, SACKPermitted: true}, nil)
	sa := sc.expect(fSA, sc.firstSeq(), 1001)
	if sa.h.Options.HasTS || sa.h.Options.HasWScale || !sa.h.Options.SACKPermitted || sa.h.Options.MSS != 1460 {
		t.Fatalf("SYN-ACK options %+v: echo only what the SYN offered", sa.h.Options)
	}
	if sc.conn().State != "SYN-RECEIVED" {
		t.Fatal(sc.conn().State)
	}
	// An ACK that does not acknowledge the SYN-ACK draws a reset.
	sc.inject(4000, 80, fA, 1001, sa.h.Seq+7, 20000, wire.TCPOptions{}, nil)
	sc.expect(fR, sa.h.Seq+7, 0)
	sc.inject(4000, 80, fA, 1001, sa.h.Seq+1, 20000, wire.TCPOptions{}, []byte("hi"))
	c, peer, err := ls.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if peer != netip.AddrPortFrom(tpeerIP, 4000) {
		t.Fatal(peer)
	}
	c.SetTimeout(0)
	b, err := c.Recv(100)
	if err != nil || string(b) != "hi" {
		t.Fatalf("recv %q %v", b, err)
	}
	// The data is acknowledged after the delayed-ACK time.
	sc.expect(fA, sa.h.Seq+1, 1003)
	si := c.Info()
	if si.State != "ESTABLISHED" || si.TCP == nil {
		t.Fatalf("info %+v", si)
	}
}

func TestTCPSynRetriesTimeout(t *testing.T) {
	sc := newScripted(t, func(c *stack.TCPConfig) { c.SYNRetries = 3 })
	so := sc.socket()
	so.Connect(netip.AddrPortFrom(tpeerIP, 80))
	first := sc.expect(fS, sc.firstSeq(), 0)
	start := first.at
	// Backoff: 1 s, 2 s, 4 s, then give up after 8 s more.
	for i, d := range []time.Duration{time.Second, 3 * time.Second, 7 * time.Second} {
		g := sc.expect(fS, first.h.Seq, 0)
		if g.at.Sub(start) != d {
			t.Fatalf("retry %d at %v, want %v", i+1, g.at.Sub(start), d)
		}
	}
	sc.run(20 * time.Second)
	if err := so.Connect(netip.AddrPortFrom(tpeerIP, 80)); errno(err) != stack.ETIMEDOUT {
		t.Fatalf("connect: %v, want ETIMEDOUT", err)
	}
	if len(sc.conns()) != 0 {
		t.Fatal("connection still listed")
	}
}

func TestTCPConnectRefused(t *testing.T) {
	sc := newScripted(t, nil)
	so := sc.socket()
	so.Connect(netip.AddrPortFrom(tpeerIP, 80))
	syn := sc.expect(fS, sc.firstSeq(), 0)
	// A RST whose ACK does not acknowledge the SYN is ignored.
	sc.inject(80, syn.h.SrcPort, fRA, 0, syn.h.Seq+5, 0, wire.TCPOptions{}, nil)
	if err := so.Connect(netip.AddrPortFrom(tpeerIP, 80)); errno(err) != stack.EALREADY {
		t.Fatalf("connect: %v, want EALREADY", err)
	}
	sc.inject(80, syn.h.SrcPort, fRA, 0, syn.h.Seq+1, 0, wire.TCPOptions{}, nil)
	if err := so.Connect(netip.AddrPortFrom(tpeerIP, 80)); errno(err) != stack.ECONNREFUSED {
		t.Fatalf("connect: %v, want ECONNREFUSED", err)
	}
	// The socket may try again after a failed attempt.
	so.Connect(netip.AddrPortFrom(tpeerIP, 80))
	if g, ok := sc.next(time.Second); !ok || g.h.Flags != fS {
		t.Fatalf("no new SYN after a refused connect: %v", g)
	}
}
