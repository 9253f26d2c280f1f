//go:build linux

package stack_test

// TCP bulk-transfer benchmarks between tipy and the Linux kernel over a TAP
// device in a network namespace (the harness of interop_tcp_linux_test.go,
// at 10.199.70.0/24 and 10.199.71.0/24). tipy runs on a wall-clock loop
// with no events; the kernel's side is a Go net.Conn opened inside the
// namespace. Each op moves tcpKernelChunk bytes one way; besides MB/s they
// report segs/op (segments tipy sent and received) and allocs/seg (every
// allocation of the process over those segments, the kernel-side Go
// socket's included). They skip without root, like the interop tests.

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/tipy/tipy/stack"
)

// tcpKernelChunk is what one kernel benchmark op moves.
const tcpKernelChunk = 1 << 20

// benchKernelConn connects the kernel to a tipy listener and returns the
// kernel's and tipy's ends of the connection.
func benchKernelConn(b *testing.B, n int) (*tcpKernel, net.Conn, net.Conn) {
	b.Helper()
	tk := newTCPKernel(b, n, tkOptions{})
	ln, err := tk.s.Listen(netip.AddrPortFrom(netip.IPv4Unspecified(), 5001), 1)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	type res struct {
		c   net.Conn
		err error
	}
	acc := make(chan res, 1)
	go func() { c, err := ln.Accept(); acc <- res{c, err} }()
	var kc net.Conn
	if err := tk.ns.Do(func() (err error) {
		kc, err = net.DialTimeout("tcp4", netip.AddrPortFrom(tk.tipyAddr, 5001).String(), koWait)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { kc.Close() })
	var r res
	select {
	case r = <-acc:
	case <-time.After(koWait):
		b.Fatal("tipy accepted nothing")
	}
	if r.err != nil {
		b.Fatal(r.err)
	}
	b.Cleanup(func() { r.c.Close() })
	return tk, kc, r.c
}

// tipySegments returns the segments tipy sent and received.
func (tk *tcpKernel) tipySegments() uint64 {
	var st stack.TCPStats
	tk.loop.Call(func() { st = tk.s.TCPStats() })
	return st.SegmentsIn + st.SegmentsOut
}

// benchOneWay copies b.N chunks from w to r and reports the figures.
func benchOneWay(b *testing.B, tk *tcpKernel, w io.Writer, r io.Reader) {
	chunk := make([]byte, tcpKernelChunk)
	for i := range chunk {
		chunk[i] = byte(i)
	}
	b.SetBytes(tcpKernelChunk)
	b.ReportAllocs()
	segs0, m0 := tk.tipySegments(), mallocs()
	b.ResetTimer()
	read := make(chan error, 1)
	go func() {
		_, err := io.CopyN(io.Discard, r, int64(b.N)*tcpKernelChunk)
		read <- err
	}()
	for i := 0; i < b.N; i++ {
		if _, err := w.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-read; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	reportPerSeg(b, tk.tipySegments()-segs0, mallocs()-m0)
}

// BenchmarkTCPKernelToTipy: the kernel sends, tipy receives.
func BenchmarkTCPKernelToTipy(b *testing.B) {
	tk, kc, tc := benchKernelConn(b, 70)
	benchOneWay(b, tk, kc, tc)
}

// BenchmarkTCPTipyToKernel: tipy sends, the kernel receives.
func BenchmarkTCPTipyToKernel(b *testing.B) {
	tk, kc, tc := benchKernelConn(b, 71)
	benchOneWay(b, tk, tc, kc)
}
