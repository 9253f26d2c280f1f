package stack

// Allocation budget of the TCP data path: a data segment in steady state
// allocates nothing, sending or receiving (issue 7). Two stacks on a
// virtual loop, whose clock never moves, exchange frames through segLinks
// that hold them until the test passes them on, so that each phase is
// measured alone:
//
//   - BenchmarkTCPSegmentTX: the application's send of one full-sized
//     segment's worth of bytes, through TCP, IPv4 and Ethernet to the link;
//   - BenchmarkTCPSegmentRX: that frame's arrival at the other stack, up to
//     its receive buffer, with the ACK it sends for every second segment.
//
// The benchmarks move segBatch segments between two rounds of untimed
// work (the other phase, the reader's copy), so that stopping the timer
// does not dominate.
//
// TestTCPSegmentAllocs runs the whole cycle (send, receive, the reader's
// copy out, the ACK back) under testing.AllocsPerRun and fails on any
// allocation, so that `make test` catches a regression.

import (
	"net/netip"
	"testing"

	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
)

// segLink is a tap.Link that queues the frames a stack sends, in buffers
// allocated once, until flush hands them to the other stack.
type segLink struct {
	mac     wire.MAC
	handler tap.Handler
	q       [][]byte
	n       int
}

func newSegLink(mac wire.MAC) *segLink {
	l := &segLink{mac: mac, q: make([][]byte, 64)}
	for i := range l.q {
		l.q[i] = make([]byte, 0, 1514)
	}
	return l
}

func (l *segLink) Name() string             { return "seg/" + l.mac.String() }
func (l *segLink) MTU() int                 { return 1500 }
func (l *segLink) MAC() wire.MAC            { return l.mac }
func (l *segLink) SetHandler(h tap.Handler) { l.handler = h }
func (l *segLink) Close() error             { return nil }

func (l *segLink) Send(frame []byte) error {
	if l.n == len(l.q) {
		return tap.ErrFrameSize // the test forgot to flush
	}
	l.q[l.n] = append(l.q[l.n][:0], frame...)
	l.n++
	return nil
}

// flush delivers the queued frames to the stack behind to, in order.
func (l *segLink) flush(to *segLink) int {
	n := 0
	for n < l.n {
		to.handler(l.q[n])
		n++
	}
	l.n = 0
	return n
}

// segPair is a connection from stack a to stack b over segLinks.
type segPair struct {
	loop       *clock.Virtual
	la, lb     *segLink
	a, b       *Stack
	cli, srv   *Socket
	chunk, out []byte
}

func newSegPair(tb testing.TB) *segPair {
	tb.Helper()
	p := &segPair{loop: clock.NewVirtual()}
	p.la, p.lb = newSegLink(wire.MAC{2, 0, 0, 0, 7, 1}), newSegLink(wire.MAC{2, 0, 0, 0, 7, 2})
	mk := func(name string, l *segLink, addr string) *Stack {
		cfg := Config{Name: name, MAC: l.mac, Addr: netip.MustParsePrefix(addr), Seed: 1}
		cfg.ARP.NoProbe = true
		s, err := New(cfg, l, p.loop, nil)
		if err != nil {
			tb.Fatal(err)
		}
		return s
	}
	p.a, p.b = mk("a", p.la, "10.0.7.1/24"), mk("b", p.lb, "10.0.7.2/24")
	now := p.loop.Now()
	ls, err := p.b.SocketNow(now, AF_INET, SOCK_STREAM, 0)
	if err == nil {
		err = ls.BindNow(now, netip.MustParseAddrPort("0.0.0.0:9"))
	}
	if err == nil {
		err = ls.ListenNow(now, 1)
	}
	if err == nil {
		p.cli, err = p.a.SocketNow(now, AF_INET, SOCK_STREAM, 0)
	}
	if err != nil {
		tb.Fatal(err)
	}
	p.cli.ConnectNow(now, netip.MustParseAddrPort("10.0.7.2:9")) // EINPROGRESS
	p.settle()                                                   // ARP, then the handshake
	if p.srv, err = ls.AcceptNow(now); err != nil {
		tb.Fatalf("accept: %v", err)
	}
	p.chunk = make([]byte, p.cli.impl.(*tcpSock).c.effMSS())
	p.out = make([]byte, 64<<10)
	for range 200 { // past slow start, buffers and free lists warm
		p.cycle(tb)
	}
	return p
}

// settle passes frames both ways until neither stack sends any.
func (p *segPair) settle() {
	for p.la.flush(p.lb)+p.lb.flush(p.la) > 0 {
		p.loop.RunUntil(p.loop.Now())
	}
}

// send has the client send one full-sized segment.
func (p *segPair) send(tb testing.TB) {
	queued := p.la.n
	n, err := p.cli.SendToNow(p.loop.Now(), p.chunk, netip.AddrPort{})
	if err != nil || n != len(p.chunk) || p.la.n != queued+1 {
		tb.Fatalf("send: %d bytes, %v, %d frames (%d before)", n, err, p.la.n, queued)
	}
}

// receive delivers the client's queued segments to the server.
func (p *segPair) receive(tb testing.TB) {
	if p.la.flush(p.lb) == 0 {
		tb.Fatal("no segment to receive")
	}
}

// drain has the server's application read everything that arrived, and
// passes the server's ACKs (every second segment, window updates) back to
// the client.
func (p *segPair) drain(tb testing.TB) {
	ts := p.srv.impl.(*tcpSock)
	for ts.c.rcvBuf.Len() > 0 {
		if _, err := ts.recvInto(p.loop.Now(), p.out); err != nil {
			tb.Fatalf("read: %v", err)
		}
	}
	p.lb.flush(p.la)
}

func (p *segPair) cycle(tb testing.TB) {
	p.send(tb)
	p.receive(tb)
	p.drain(tb)
}

// segBatch is how many segments a benchmark sends between two rounds of
// untimed work, within the initial congestion window (RFC 6928: 10).
const segBatch = 8

func BenchmarkTCPSegmentTX(b *testing.B) {
	p := newSegPair(b)
	b.SetBytes(int64(len(p.chunk)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		p.send(b)
		if i%segBatch == 0 || i == b.N {
			b.StopTimer()
			p.receive(b)
			p.drain(b)
			b.StartTimer()
		}
	}
}

func BenchmarkTCPSegmentRX(b *testing.B) {
	p := newSegPair(b)
	b.SetBytes(int64(len(p.chunk)))
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		k := min(segBatch, b.N-done)
		b.StopTimer()
		for range k {
			p.send(b)
		}
		b.StartTimer()
		p.receive(b) // k segments in, one ACK out for every second
		b.StopTimer()
		p.drain(b)
		b.StartTimer()
		done += k
	}
}

func TestTCPSegmentAllocs(t *testing.T) {
	p := newSegPair(t)
	if n := testing.AllocsPerRun(1000, func() { p.cycle(t) }); n > 0 {
		t.Errorf("a steady-state segment (send, receive, read, ACK) allocates %.2f times; the data path must not allocate", n)
	}
}
