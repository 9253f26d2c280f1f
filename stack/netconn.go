package stack

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Go adapters: tipy sockets as net.PacketConn and net.Conn, so that code
// written for Go's net package (DNS clients, net/http through a listener,
// tests) runs over tipy unchanged.
//
// Deadlines are wall-clock times, as net.Conn defines them; the socket's own
// SetTimeout keeps running on the stack's clock. A call that passes its
// deadline fails with a *net.OpError whose Timeout() is true and that
// errors.Is(err, os.ErrDeadlineExceeded). Changing a deadline affects calls
// already waiting, as net.Conn requires.

// deadline is one direction's deadline: a channel that is closed when it
// passes. While it has not passed, moving it re-arms the same channel, so
// calls already waiting on it see the new time.
type deadline struct {
	mu     sync.Mutex
	timer  *time.Timer
	cancel chan struct{} // closed when the deadline passes
}

func newDeadline() *deadline { return &deadline{cancel: make(chan struct{})} }

// set moves the deadline to t; the zero time means none.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.cancel // the timer fired: wait until it has closed the channel
	}
	d.timer = nil
	closed := isClosed(d.cancel)
	if t.IsZero() {
		if closed {
			d.cancel = make(chan struct{})
		}
		return
	}
	if dur := time.Until(t); dur > 0 {
		if closed {
			d.cancel = make(chan struct{})
		}
		ch := d.cancel
		d.timer = time.AfterFunc(dur, func() { close(ch) })
		return
	}
	if !closed {
		close(d.cancel)
	}
}

// wait returns the channel that closes when the deadline passes.
func (d *deadline) wait() chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cancel
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// deadlineContext is a context that ends when a deadline channel closes.
type deadlineContext struct {
	context.Context
	done chan struct{}
}

func (c deadlineContext) Done() <-chan struct{} { return c.done }

func (c deadlineContext) Err() error {
	if isClosed(c.done) {
		return context.DeadlineExceeded
	}
	return nil
}

// netAddr converts a socket address to the net.Addr of the socket type.
func netAddr(typ SockType, a netip.AddrPort) net.Addr {
	if !a.IsValid() {
		return nil
	}
	switch typ {
	case SOCK_RAW:
		return &net.IPAddr{IP: a.Addr().AsSlice()}
	case SOCK_STREAM:
		return net.TCPAddrFromAddrPort(a)
	}
	return net.UDPAddrFromAddrPort(a)
}

// addrPortOf converts a net.Addr to a socket address.
func addrPortOf(a net.Addr) (netip.AddrPort, error) {
	switch x := a.(type) {
	case *net.UDPAddr:
		return unmap(x.AddrPort()), nil
	case *net.TCPAddr:
		return unmap(x.AddrPort()), nil
	case *net.IPAddr:
		ip, ok := netip.AddrFromSlice(x.IP)
		if !ok {
			return netip.AddrPort{}, sockErr("sendto", x.String(), EINVAL, "not an IP address")
		}
		return netip.AddrPortFrom(ip.Unmap(), 0), nil
	case nil:
		return netip.AddrPort{}, sockErr("sendto", "", EDESTADDRREQ, "no address")
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPort{}, sockErr("sendto", a.String(), EINVAL, "not an address:port")
	}
	return unmap(ap), nil
}

// unmap turns an IPv4-mapped IPv6 address (as net.IPv4 makes) into IPv4.
func unmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// netName returns the network name of Go's net package for the socket.
func netName(so *Socket) string {
	switch so.typ {
	case SOCK_STREAM:
		return "tcp"
	case SOCK_RAW:
		return "ip4:" + strconv.Itoa(so.proto)
	}
	return "udp"
}

// adapter is what PacketConn and Conn share: the socket, its deadlines and
// the translation of errors.
type adapter struct {
	so     *Socket
	rd, wd *deadline
	closed atomic.Bool
}

func newAdapter(so *Socket) *adapter {
	return &adapter{so: so, rd: newDeadline(), wd: newDeadline()}
}

// ctx returns the context of one call under deadline d, or an error when
// the deadline has already passed.
func (a *adapter) ctx(d *deadline) (context.Context, bool) {
	ch := d.wait()
	if isClosed(ch) {
		return nil, false
	}
	return deadlineContext{Context: context.Background(), done: ch}, true
}

// opError wraps err as net does: deadline → os.ErrDeadlineExceeded, a
// closed socket → net.ErrClosed, anything else the *SocketError itself.
func (a *adapter) opError(op string, d *deadline, addr net.Addr, err error) error {
	if err == nil {
		return nil
	}
	var se *SocketError
	switch {
	case a.closed.Load() || errors.As(err, &se) && se.Errno == EBADF:
		err = net.ErrClosed
	case isClosed(d.wait()) && errors.Is(err, ETIMEDOUT):
		err = os.ErrDeadlineExceeded
	}
	return &net.OpError{Op: op, Net: netName(a.so), Source: a.LocalAddr(), Addr: addr, Err: err}
}

// LocalAddr returns the socket's local address.
func (a *adapter) LocalAddr() net.Addr { return netAddr(a.so.typ, a.so.LocalAddr()) }

// SetDeadline sets the read and write deadlines.
func (a *adapter) SetDeadline(t time.Time) error {
	a.rd.set(t)
	a.wd.set(t)
	return nil
}

// SetReadDeadline sets the deadline of reads, pending ones included.
func (a *adapter) SetReadDeadline(t time.Time) error { a.rd.set(t); return nil }

// SetWriteDeadline sets the deadline of writes, pending ones included.
func (a *adapter) SetWriteDeadline(t time.Time) error { a.wd.set(t); return nil }

// Close closes the socket; calls waiting on it return net.ErrClosed.
func (a *adapter) Close() error {
	a.closed.Store(true)
	if err := a.so.Close(); err != nil {
		return a.opError("close", a.rd, nil, err)
	}
	return nil
}

// Socket returns the adapted socket.
func (a *adapter) Socket() *Socket { return a.so }

// PacketConn is a datagram or raw socket as a net.PacketConn. Addresses are
// *net.UDPAddr for UDP and *net.IPAddr for raw sockets.
type PacketConn struct{ *adapter }

// NewPacketConn adapts a SOCK_DGRAM or SOCK_RAW socket.
func NewPacketConn(so *Socket) *PacketConn { return &PacketConn{newAdapter(so)} }

var _ net.PacketConn = (*PacketConn)(nil)

// ReadFrom reads one datagram into p (truncated to len(p)) and returns its
// sender.
func (c *PacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	ctx, ok := c.ctx(c.rd)
	if !ok {
		return 0, nil, c.opError("read", c.rd, nil, sockErr("recv", "", ETIMEDOUT, "deadline passed"))
	}
	b, from, err := c.so.RecvFromContext(ctx, len(p))
	if err != nil {
		return 0, nil, c.opError("read", c.rd, nil, err)
	}
	return copy(p, b), netAddr(c.so.typ, from), nil
}

// WriteTo sends p as one datagram to addr.
func (c *PacketConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	ap, err := addrPortOf(addr)
	if err != nil {
		return 0, c.opError("write", c.wd, addr, err)
	}
	ctx, ok := c.ctx(c.wd)
	if !ok {
		return 0, c.opError("write", c.wd, addr, sockErr("sendto", "", ETIMEDOUT, "deadline passed"))
	}
	n, err := c.so.SendToContext(ctx, p, ap)
	return n, c.opError("write", c.wd, addr, err)
}

// Conn is a connected socket as a net.Conn: a connected UDP socket (each
// Write one datagram, each Read one datagram) or a TCP connection (a byte
// stream; Read returns io.EOF at its end).
type Conn struct{ *adapter }

// NewConn adapts a connected socket of any type.
func NewConn(so *Socket) *Conn { return &Conn{newAdapter(so)} }

var _ net.Conn = (*Conn)(nil)

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return netAddr(c.so.typ, c.so.RemoteAddr()) }

// Read reads data into p: one datagram, or what a stream has ready. On a
// stream, reading into an empty p returns at once, as net.TCPConn does.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 && c.so.typ == SOCK_STREAM {
		if c.closed.Load() {
			return 0, c.opError("read", c.rd, nil, net.ErrClosed)
		}
		return 0, nil
	}
	ctx, ok := c.ctx(c.rd)
	if !ok {
		return 0, c.opError("read", c.rd, c.RemoteAddr(), sockErr("recv", "", ETIMEDOUT, "deadline passed"))
	}
	if c.so.typ == SOCK_STREAM {
		n, err := c.so.recvInto(ctx, p) // straight into p: one copy
		if err != nil {
			return 0, c.opError("read", c.rd, c.RemoteAddr(), err)
		}
		if n == 0 {
			return 0, io.EOF
		}
		return n, nil
	}
	b, err := c.so.RecvContext(ctx, len(p))
	if err != nil {
		return 0, c.opError("read", c.rd, c.RemoteAddr(), err)
	}
	return copy(p, b), nil
}

// Write sends p: one datagram, or all of p on a stream (waiting for room in
// the send buffer as often as needed).
func (c *Conn) Write(p []byte) (int, error) {
	total := 0
	for {
		ctx, ok := c.ctx(c.wd)
		if !ok {
			return total, c.opError("write", c.wd, c.RemoteAddr(), sockErr("send", "", ETIMEDOUT, "deadline passed"))
		}
		n, err := c.so.SendContext(ctx, p[total:])
		total += n
		if err != nil {
			return total, c.opError("write", c.wd, c.RemoteAddr(), err)
		}
		if c.so.typ != SOCK_STREAM || total >= len(p) {
			return total, nil
		}
	}
}

// CloseRead shuts the receiving direction (SHUT_RD).
func (c *Conn) CloseRead() error {
	return c.opError("close", c.rd, c.RemoteAddr(), c.so.Shutdown(SHUT_RD))
}

// CloseWrite shuts the sending direction (SHUT_WR); a TCP peer then reads
// end of stream.
func (c *Conn) CloseWrite() error {
	return c.opError("close", c.wd, c.RemoteAddr(), c.so.Shutdown(SHUT_WR))
}

// ListenPacket opens a UDP socket bound to addr (port 0: an ephemeral port)
// and returns it as a net.PacketConn (a *PacketConn), as net.ListenUDP does.
// To share a port (SO_REUSEADDR) or set options before binding, make the
// socket with Stack.Socket and wrap it with NewPacketConn.
func (s *Stack) ListenPacket(addr netip.AddrPort) (net.PacketConn, error) {
	so, err := s.Socket(AF_INET, SOCK_DGRAM, 0)
	if err != nil {
		return nil, err
	}
	if err := so.Bind(addr); err != nil {
		so.Close()
		return nil, &net.OpError{Op: "listen", Net: "udp", Addr: net.UDPAddrFromAddrPort(addr), Err: err}
	}
	return NewPacketConn(so), nil
}

// DialUDP opens a UDP socket connected to raddr from an ephemeral port and
// returns it as a net.Conn (a *Conn), as net.DialUDP does.
func (s *Stack) DialUDP(raddr netip.AddrPort) (net.Conn, error) {
	so, err := s.Socket(AF_INET, SOCK_DGRAM, 0)
	if err != nil {
		return nil, err
	}
	if err := so.Connect(raddr); err != nil {
		so.Close()
		return nil, &net.OpError{Op: "dial", Net: "udp", Addr: net.UDPAddrFromAddrPort(raddr), Err: err}
	}
	return NewConn(so), nil
}
