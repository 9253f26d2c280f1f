package stack_test

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
)

// The scripted-peer harness: one tipy stack on a switch port, and a second
// port driven by the test, which injects exact segments built with the wire
// package and captures every segment tipy sends. Time is virtual and only
// moves when the test runs the loop, so timings are exact.

var (
	ttipyIP  = netip.MustParseAddr("10.0.0.1")
	tpeerIP  = netip.MustParseAddr("10.0.0.2")
	ttipyMAC = wire.MAC{0x02, 0, 0, 0, 0, 1}
	tpeerMAC = wire.MAC{0x02, 0, 0, 0, 0, 2}
)

// capSeg is a segment tipy sent.
type capSeg struct {
	at   clock.Time
	h    wire.TCPHeader
	data []byte
}

func (c capSeg) String() string {
	return fmt.Sprintf("%v %s len %d", c.at, c.h.String(), len(c.data))
}

type scripted struct {
	t    *testing.T
	loop *clock.Virtual
	s    *stack.Stack
	ev   *events
	peer *tap.Port
	got  []capSeg
	ts   uint32 // the peer's timestamp clock
}

func newScripted(t *testing.T, mod func(*stack.TCPConfig)) *scripted {
	t.Helper()
	sc := &scripted{t: t, loop: clock.NewVirtual(), ev: &events{}}
	sw := tap.NewSwitch(sc.loop, "lan", nil, 1)
	sw.SetPropagationDelay(0)
	port := sw.AddPort("tipy", ttipyMAC, 1500)
	cfg := stack.Config{Name: "tipy", MAC: ttipyMAC, Addr: netip.MustParsePrefix("10.0.0.1/24"), Seed: 7}
	cfg.ARP.NoProbe = true
	s, err := stack.New(cfg, port, sc.loop, sc.ev)
	if err != nil {
		t.Fatal(err)
	}
	sc.s = s
	var tc stack.TCPConfig
	if mod != nil {
		mod(&tc)
	}
	s.Call(func() {
		s.SetTCPConfig(tc)
		if err := s.AddStaticARP(tpeerIP, tpeerMAC); err != nil {
			t.Fatal(err)
		}
	})
	sc.peer = sw.AddPort("peer", tpeerMAC, 1500)
	sc.peer.SetHandler(func(f []byte) {
		e := wire.Ethernet(f)
		if e.Validate() != nil || e.Type() != wire.EtherTypeIPv4 {
			return
		}
		ip := wire.IPv4(e.Payload())
		ih, err := wire.ParseIPv4(ip)
		if err != nil || ih.Protocol != wire.ProtoTCP {
			return
		}
		seg := ip.Payload()
		h, err := wire.ParseTCP(seg)
		if err != nil {
			t.Errorf("tipy sent a bad TCP segment: %v", err)
			return
		}
		if !wire.TCP(seg).ChecksumValid(ih.Src, ih.Dst) {
			t.Errorf("tipy sent a segment with a bad checksum: %s", h.String())
		}
		h.Options.NumUnknown = 0
		sc.got = append(sc.got, capSeg{at: sc.loop.Now(), h: h, data: append([]byte(nil), wire.TCP(seg).Payload()...)})
	})
	return sc
}

// inject sends a segment from the peer (port pp) to tipy (port tp).
func (sc *scripted) inject(pp, tp uint16, flags wire.TCPFlags, seq, ack uint32, wnd uint16, opts wire.TCPOptions, data []byte) {
	sc.t.Helper()
	h := wire.TCPHeader{SrcPort: pp, DstPort: tp, Seq: seq, Ack: ack, Flags: flags, Window: wnd, Options: opts}
	hl := h.HeaderLen()
	frame := make([]byte, 14+20+hl+len(data))
	copy(frame[14+20+hl:], data)
	if err := h.Marshal(frame[14+20:], tpeerIP, ttipyIP); err != nil {
		sc.t.Fatal(err)
	}
	ih := wire.IPv4Header{TTL: 64, Protocol: wire.ProtoTCP, Src: tpeerIP, Dst: ttipyIP}
	if err := ih.Marshal(frame[14:]); err != nil {
		sc.t.Fatal(err)
	}
	eh := wire.EthernetHeader{Dst: ttipyMAC, Src: tpeerMAC, Type: wire.EtherTypeIPv4}
	if err := eh.Marshal(frame); err != nil {
		sc.t.Fatal(err)
	}
	if err := sc.peer.Send(frame); err != nil {
		sc.t.Fatal(err)
	}
	sc.loop.RunFor(0)
}

// run advances virtual time by d.
func (sc *scripted) run(d time.Duration) { sc.loop.RunFor(d) }

// next returns the next segment tipy sent, running the loop up to limit.
func (sc *scripted) next(limit time.Duration) (capSeg, bool) {
	if len(sc.got) == 0 {
		sc.loop.RunWhile(func() bool { return len(sc.got) == 0 }, sc.loop.Now().Add(limit))
	}
	if len(sc.got) == 0 {
		return capSeg{}, false
	}
	g := sc.got[0]
	sc.got = sc.got[1:]
	return g, true
}

// expect takes the next segment and checks its flags, seq and ack (ack is
// checked only when the ACK flag is expected).
func (sc *scripted) expect(flags wire.TCPFlags, seq, ack uint32, checks ...func(capSeg) error) capSeg {
	sc.t.Helper()
	g, ok := sc.next(10 * time.Second)
	if !ok {
		sc.t.Fatalf("expected %s seq %d ack %d, tipy sent nothing\n%s", flags, seq, ack, sc.tail())
	}
	if g.h.Flags != flags || g.h.Seq != seq || (flags&wire.TCPFlagACK != 0 && g.h.Ack != ack) {
		sc.t.Fatalf("expected %s seq %d ack %d, got %s\n%s", flags, seq, ack, g, sc.tail())
	}
	for _, c := range checks {
		if err := c(g); err != nil {
			sc.t.Fatalf("segment %s: %v", g, err)
		}
	}
	return g
}

// expectNone checks that tipy sends nothing within d.
func (sc *scripted) expectNone(d time.Duration) {
	sc.t.Helper()
	if g, ok := sc.next(d); ok {
		sc.t.Fatalf("expected silence for %v, got %s", d, g)
	}
}

func (sc *scripted) tail() string {
	var b strings.Builder
	list := sc.ev.list
	if len(list) > 40 {
		list = list[len(list)-40:]
	}
	for _, ev := range list {
		fmt.Fprintf(&b, "  %s %s %s %s\n", clock.Time(ev.TimeNS), ev.Layer, ev.Kind, ev.Summary)
	}
	return b.String()
}

func withData(n int) func(capSeg) error {
	return func(g capSeg) error {
		if len(g.data) != n {
			return fmt.Errorf("%d bytes of data, want %d", len(g.data), n)
		}
		return nil
	}
}

func withWindow(w uint16) func(capSeg) error {
	return func(g capSeg) error {
		if g.h.Window != w {
			return fmt.Errorf("window %d, want %d", g.h.Window, w)
		}
		return nil
	}
}

func withSACK(blocks ...wire.SACKBlock) func(capSeg) error {
	return func(g capSeg) error {
		got := g.h.Options.SACK[:g.h.Options.NumSACK]
		if len(got) != len(blocks) {
			return fmt.Errorf("SACK blocks %v, want %v", got, blocks)
		}
		for i := range blocks {
			if got[i] != blocks[i] {
				return fmt.Errorf("SACK blocks %v, want %v", got, blocks)
			}
		}
		return nil
	}
}

func at(want clock.Time) func(capSeg) error {
	return func(g capSeg) error {
		if g.at != want {
			return fmt.Errorf("sent at %v, want %v", g.at, want)
		}
		return nil
	}
}

// Flag shorthands.
const (
	fS  = wire.TCPFlagSYN
	fA  = wire.TCPFlagACK
	fSA = wire.TCPFlagSYN | wire.TCPFlagACK
	fR  = wire.TCPFlagRST
	fRA = wire.TCPFlagRST | wire.TCPFlagACK
	fF  = wire.TCPFlagFIN
	fFA = wire.TCPFlagFIN | wire.TCPFlagACK
	fP  = wire.TCPFlagPSH
	fPA = wire.TCPFlagPSH | wire.TCPFlagACK
)

// socket makes a non-blocking stream socket.
func (sc *scripted) socket() *stack.Socket {
	sc.t.Helper()
	so, err := sc.s.Socket(stack.AF_INET, stack.SOCK_STREAM, 0)
	if err != nil {
		sc.t.Fatal(err)
	}
	if err := so.SetTimeout(0); err != nil {
		sc.t.Fatal(err)
	}
	return so
}

// conn returns the snapshot of the only (or the first) connection.
func (sc *scripted) conn() stack.TCPSnapshot {
	sc.t.Helper()
	var cs []stack.TCPSnapshot
	sc.s.Call(func() { cs = sc.s.TCPConnections() })
	if len(cs) == 0 {
		sc.t.Fatal("no TCP connection")
	}
	return cs[0]
}

func (sc *scripted) conns() []stack.TCPSnapshot {
	var cs []stack.TCPSnapshot
	sc.s.Call(func() { cs = sc.s.TCPConnections() })
	return cs
}

// errno extracts the Errno of a socket error.
func errno(err error) stack.Errno {
	var se *stack.SocketError
	if errors.As(err, &se) {
		return se.Errno
	}
	var e stack.Errno
	if errors.As(err, &e) {
		return e
	}
	return 0
}

// connectActive opens a connection from tipy to the peer on port 80 with
// the given options on the peer's SYN-ACK; it returns the socket, tipy's
// port, ISS+1 and the peer's ISS+1.
func (sc *scripted) connectActive(peerOpts wire.TCPOptions) (*stack.Socket, uint16, uint32, uint32) {
	sc.t.Helper()
	so := sc.socket()
	if err := so.Connect(netip.AddrPortFrom(tpeerIP, 80)); errno(err) != stack.EINPROGRESS {
		sc.t.Fatalf("non-blocking connect: %v, want EINPROGRESS", err)
	}
	syn := sc.expect(fS, sc.firstSeq(), 0)
	port := syn.h.SrcPort
	iss := syn.h.Seq
	const piss = 5000
	if syn.h.Options.HasTS && peerOpts.HasTS {
		peerOpts.TSEcr = syn.h.Options.TSVal
	}
	sc.inject(80, port, fSA, piss, iss+1, 65535, peerOpts, nil)
	sc.expect(fA, iss+1, piss+1)
	if err := so.Connect(netip.AddrPortFrom(tpeerIP, 80)); err != nil {
		sc.t.Fatalf("connect after the handshake: %v", err)
	}
	return so, port, iss + 1, piss + 1
}

// firstSeq peeks the sequence number of the first captured SYN.
func (sc *scripted) firstSeq() uint32 {
	if len(sc.got) == 0 {
		sc.loop.RunWhile(func() bool { return len(sc.got) == 0 }, sc.loop.Now().Add(time.Second))
	}
	if len(sc.got) == 0 {
		return 0
	}
	return sc.got[0].h.Seq
}

func netipPeer80() netip.AddrPort { return netip.AddrPortFrom(tpeerIP, 80) }
