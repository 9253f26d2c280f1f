package stack

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Go adapters for TCP: a listening SOCK_STREAM socket as a net.Listener,
// an active open as a net.Conn, and a DialContext for http.Transport, so
// that net/http (and anything else written for Go's net package) serves and
// fetches over tipy. The connections themselves are netconn.go's *Conn:
// Read returns io.EOF at the end of the stream, Write sends all of its
// bytes, deadlines are wall-clock times, CloseWrite sends a FIN.
//
// Like every blocking socket call, these methods run the stack through
// Loop.Call: call them from goroutines, never from loop work.

// Listener is a listening TCP socket as a net.Listener. Accept returns
// each connection as a *Conn.
type Listener struct {
	so     *Socket
	dl     *deadline
	closed atomic.Bool

	addrOnce sync.Once
	addr     *net.TCPAddr
}

var _ net.Listener = (*Listener)(nil)

// NewListener adapts a SOCK_STREAM socket that listens already (Listen or
// ListenNow was called). It may be called from loop work: it does not touch
// the stack.
func NewListener(so *Socket) *Listener { return &Listener{so: so, dl: newDeadline()} }

// Listen opens a TCP socket bound to addr (port 0: an ephemeral port; the
// unspecified address: every interface) that listens with a queue of
// backlog connections (0 or less: the stack's default), as net.Listen
// does. To set options before listening (SO_REUSEADDR, buffer sizes), make
// the socket with Stack.Socket and wrap it with NewListener.
func (s *Stack) Listen(addr netip.AddrPort, backlog int) (net.Listener, error) {
	addr = unmap(addr)
	opErr := func(err error) error {
		return &net.OpError{Op: "listen", Net: "tcp", Addr: net.TCPAddrFromAddrPort(addr), Err: err}
	}
	so, err := s.Socket(AF_INET, SOCK_STREAM, 0)
	if err != nil {
		return nil, opErr(err)
	}
	if err := so.Bind(addr); err != nil {
		so.Close()
		return nil, opErr(err)
	}
	if err := so.Listen(backlog); err != nil {
		so.Close()
		return nil, opErr(err)
	}
	return NewListener(so), nil
}

// Accept waits for the next connection and returns it as a *Conn. After
// Close, it returns a *net.OpError wrapping net.ErrClosed; once a deadline
// set by SetDeadline passes, one wrapping os.ErrDeadlineExceeded.
func (l *Listener) Accept() (net.Conn, error) {
	ch := l.dl.wait()
	if isClosed(ch) {
		return nil, l.opError(sockErr("accept", "", ETIMEDOUT, "deadline passed"))
	}
	ctx := deadlineContext{Context: context.Background(), done: ch}
	so, _, err := l.so.AcceptContext(ctx)
	if err != nil {
		return nil, l.opError(err)
	}
	return NewConn(so), nil
}

// AcceptConn is Accept with the concrete type, for callers that want
// CloseRead, CloseWrite or the socket of the connection.
func (l *Listener) AcceptConn() (*Conn, error) {
	c, err := l.Accept()
	if err != nil {
		return nil, err
	}
	return c.(*Conn), nil
}

// opError wraps an accept error as Go's net package does.
func (l *Listener) opError(err error) error {
	var se *SocketError
	switch {
	case l.closed.Load() || errors.As(err, &se) && se.Errno == EBADF:
		err = net.ErrClosed
	case isClosed(l.dl.wait()) && errors.Is(err, ETIMEDOUT):
		err = os.ErrDeadlineExceeded
	}
	return &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: err}
}

// Close stops listening: Accept calls waiting or to come return
// net.ErrClosed, and connections not yet accepted are reset. Connections
// already accepted are not affected.
func (l *Listener) Close() error {
	l.Addr() // remember the address while the socket still has it
	if l.closed.Swap(true) {
		return &net.OpError{Op: "close", Net: "tcp", Addr: l.Addr(), Err: net.ErrClosed}
	}
	if err := l.so.Close(); err != nil {
		var se *SocketError
		if errors.As(err, &se) && se.Errno == EBADF {
			return nil // closed from loop work already (CloseNow)
		}
		return &net.OpError{Op: "close", Net: "tcp", Addr: l.Addr(), Err: err}
	}
	return nil
}

// Addr returns the listening address as a *net.TCPAddr (0.0.0.0 when the
// socket listens on every interface).
func (l *Listener) Addr() net.Addr {
	l.addrOnce.Do(func() { l.addr = net.TCPAddrFromAddrPort(l.so.LocalAddr()) })
	return l.addr
}

// SetDeadline sets the deadline of Accept calls, waiting ones included, as
// net.TCPListener does; the zero time means none.
func (l *Listener) SetDeadline(t time.Time) error {
	l.dl.set(t)
	return nil
}

// Socket returns the listening socket.
func (l *Listener) Socket() *Socket { return l.so }

// DialTCP opens a TCP connection to addr from an ephemeral port, waiting
// for the handshake until it completes, fails (ECONNREFUSED, ETIMEDOUT,
// ...) or ctx ends, and returns it as a net.Conn (a *Conn), as
// net.Dialer.DialContext does. When ctx ends first, the error wraps
// ctx.Err() and the half-open connection is aborted.
func (s *Stack) DialTCP(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
	addr = unmap(addr)
	raddr := net.TCPAddrFromAddrPort(addr)
	if err := ctx.Err(); err != nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: raddr, Err: err}
	}
	so, err := s.Socket(AF_INET, SOCK_STREAM, 0)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: raddr, Err: err}
	}
	if err := so.ConnectContext(ctx, addr); err != nil {
		so.Close()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, &net.OpError{Op: "dial", Net: "tcp", Source: netAddr(SOCK_STREAM, so.LocalAddr()), Addr: raddr, Err: err}
	}
	return NewConn(so), nil
}

// DialContext connects to address on the named network, with the
// signature of net.Dialer.DialContext and http.Transport.DialContext.
// network is "tcp" or "tcp4" (a TCP connection, see DialTCP) or "udp" or
// "udp4" (a connected UDP socket, see DialUDP); address is "A.B.C.D:port":
// tipy has no resolver, so host names are refused with a *net.AddrError.
func (s *Stack) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "udp", "udp4":
	default:
		return nil, &net.OpError{Op: "dial", Net: network, Err: net.UnknownNetworkError(network)}
	}
	addr, err := parseDialAddr(address)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	if strings.HasPrefix(network, "tcp") {
		return s.DialTCP(ctx, addr)
	}
	if err := ctx.Err(); err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Addr: net.UDPAddrFromAddrPort(addr), Err: err}
	}
	return s.DialUDP(addr)
}

// parseDialAddr reads "A.B.C.D:port", the only form tipy can dial.
func parseDialAddr(address string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		host, _, splitErr := net.SplitHostPort(address)
		if splitErr == nil {
			if _, ipErr := netip.ParseAddr(host); ipErr != nil {
				return netip.AddrPort{}, &net.AddrError{Err: "tipy has no name resolver: want an IPv4 address, A.B.C.D:port", Addr: address}
			}
		}
		return netip.AddrPort{}, &net.AddrError{Err: "want A.B.C.D:port", Addr: address}
	}
	ap = unmap(ap)
	if !ap.Addr().Is4() {
		return netip.AddrPort{}, &net.AddrError{Err: "tipy speaks IPv4 only", Addr: address}
	}
	return ap, nil
}
