package stack_test

// TCP bulk-transfer benchmarks between two tipy stacks in one process, on a
// tap.Switch with MTU 1500 and no events (observe.Discard):
//
//   - BenchmarkTCPBulkInProcess runs both stacks on a virtual loop driven
//     as fast as possible by the benchmark goroutine: it measures the CPU
//     cost of the whole TCP/IPv4/Ethernet path per byte, with no goroutine
//     hand-offs (virtual time jumps over every wait).
//   - BenchmarkTCPBulkWall runs them on a wall-clock loop, with a sender
//     and a receiver goroutine using the blocking socket calls (net.Conn
//     adapters), as an application would.
//
// Each op moves tcpBenchChunk bytes one way. Beside MB/s and allocs/op they
// report segs/op (segments both stacks sent, data and ACKs) and allocs/seg
// (every allocation of the process during the run over those segments).
// Kernel benchmarks over TAP are in tcp_bench_linux_test.go.

import (
	"context"
	"io"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
)

// tcpBenchChunk is what one benchmark op moves.
const tcpBenchChunk = 64 << 10

// benchPair is two stacks, a (10.0.9.1) and b (10.0.9.2), on one switch.
type benchPair struct {
	loop clock.Loop
	a, b *stack.Stack
}

// newBenchPair builds the pair on loop; build runs stack.New where the
// loop wants it (directly for a virtual loop driven by the caller, through
// Call for a running wall loop).
func newBenchPair(b *testing.B, loop clock.Loop, call func(func())) *benchPair {
	b.Helper()
	sw := tap.NewSwitch(loop, "lan", nil, 1)
	p := &benchPair{loop: loop}
	for i, name := range []string{"a", "b"} {
		cfg := stack.Config{Name: name, MAC: wire.MAC{0x02, 0, 0, 0, 9, byte(i + 1)},
			Addr: netip.MustParsePrefix([]string{"10.0.9.1/24", "10.0.9.2/24"}[i]), Seed: 1}
		cfg.ARP.NoProbe = true
		var s *stack.Stack
		var err error
		call(func() { s, err = stack.New(cfg, sw.AddPort(name, cfg.MAC, 1500), loop, nil) })
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			p.a = s
		} else {
			p.b = s
		}
	}
	return p
}

// segments returns the segments both stacks have sent.
func (p *benchPair) segments() uint64 {
	return p.a.TCPStats().SegmentsOut + p.b.TCPStats().SegmentsOut
}

// mallocs returns the process's allocation count so far.
func mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}

// reportPerSeg adds segs/op and allocs/seg to b's results.
func reportPerSeg(b *testing.B, segs, allocs uint64) {
	if segs == 0 || b.N == 0 {
		return
	}
	b.ReportMetric(float64(segs)/float64(b.N), "segs/op")
	b.ReportMetric(float64(allocs)/float64(segs), "allocs/seg")
}

// BenchmarkTCPBulkInProcess: a sends to b on a virtual loop, the
// benchmark goroutine alternating non-blocking sends, loop time and
// receives.
func BenchmarkTCPBulkInProcess(b *testing.B) {
	loop := clock.NewVirtual()
	p := newBenchPair(b, loop, func(f func()) { f() })
	c, srv := benchConnect(b, loop, p.a, p.b)
	chunk := make([]byte, tcpBenchChunk)
	received := 0
	drain := benchDrain(loop, srv, &received)
	b.SetBytes(tcpBenchChunk)
	b.ReportAllocs()
	segs0, m0 := p.segments(), mallocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for off := 0; off < len(chunk); {
			n, err := c.Send(chunk[off:])
			if err == nil {
				off += n
				continue
			}
			drain()
		}
	}
	for received < b.N*len(chunk) {
		drain()
	}
	b.StopTimer()
	reportPerSeg(b, p.segments()-segs0, mallocs()-m0)
}

// BenchmarkTCPBulkWall: a sends to b on a wall-clock loop, a sender and a
// receiver goroutine using the blocking net.Conn adapters.
func BenchmarkTCPBulkWall(b *testing.B) {
	loop := clock.NewWall()
	stop := runWall(b, loop)
	defer stop()
	p := newBenchPair(b, loop, loop.Call)
	ln, err := p.b.Listen(netip.MustParseAddrPort("0.0.0.0:9"), 1)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan io.ReadCloser, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	conn, err := p.a.DialTCP(b.Context(), netip.MustParseAddrPort("10.0.9.2:9"))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	srv, ok := <-accepted
	if !ok {
		b.Fatal("accept failed")
	}
	defer srv.Close()
	var segs0 uint64
	loop.Call(func() { segs0 = p.segments() })
	chunk := make([]byte, tcpBenchChunk)
	b.SetBytes(tcpBenchChunk)
	b.ReportAllocs()
	m0 := mallocs()
	b.ResetTimer()
	read := make(chan error, 1)
	go func() {
		_, err := io.CopyN(io.Discard, srv, int64(b.N)*tcpBenchChunk)
		read <- err
	}()
	for i := 0; i < b.N; i++ {
		if _, err := conn.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-read; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	var segs uint64
	loop.Call(func() { segs = p.segments() - segs0 })
	reportPerSeg(b, segs, mallocs()-m0)
}

// runWall runs a wall loop until the returned stop is called.
func runWall(b *testing.B, loop *clock.Wall) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); loop.Run(ctx) }()
	return func() { cancel(); <-done }
}

// benchConnect opens a listener on b's port 9 and connects a's socket to
// it on the virtual loop (non-blocking sockets), and returns the client and
// the accepted server socket.
func benchConnect(b *testing.B, loop *clock.Virtual, a, bs *stack.Stack) (c, srv *stack.Socket) {
	b.Helper()
	ls, _ := bs.Socket(stack.AF_INET, stack.SOCK_STREAM, 0)
	ls.SetTimeout(0)
	if err := ls.Bind(netip.MustParseAddrPort("0.0.0.0:9")); err != nil {
		b.Fatal(err)
	}
	if err := ls.Listen(1); err != nil {
		b.Fatal(err)
	}
	c, _ = a.Socket(stack.AF_INET, stack.SOCK_STREAM, 0)
	c.SetTimeout(0)
	c.Connect(netip.MustParseAddrPort("10.0.9.2:9")) // EINPROGRESS
	loop.RunFor(time.Millisecond)
	if err := c.Connect(netip.MustParseAddrPort("10.0.9.2:9")); err != nil {
		b.Fatal(err)
	}
	srv, _, err := ls.Accept()
	if err != nil {
		b.Fatal(err)
	}
	srv.SetTimeout(0)
	return c, srv
}

// benchDrain returns a step of a bulk benchmark: run the loop for 100 µs,
// then read everything srv has, counting it in *received.
func benchDrain(loop *clock.Virtual, srv *stack.Socket, received *int) func() {
	return func() {
		loop.RunFor(100 * time.Microsecond)
		for {
			d, err := srv.Recv(1 << 20)
			if err != nil || len(d) == 0 {
				return
			}
			*received += len(d)
		}
	}
}
