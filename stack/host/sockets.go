package host

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/tipy/tipy/stack"
)

// The calls that open sockets are the stack's, guarded: once the host is
// closed they fail with ErrClosed instead of opening a socket on a stack
// whose loop has stopped (where a call that waits would wait forever), and
// the calls that wait for the network end when the host closes.

// open holds off Close while a call opens a socket, or reports that the
// host is closed. Call the returned function when the socket is open.
func (h *Host) open(op string) (func(), error) {
	h.mu.RLock()
	if h.closed {
		h.mu.RUnlock()
		return nil, fmt.Errorf("%s on host %s: %w", op, h.Name(), ErrClosed)
	}
	return h.mu.RUnlock, nil
}

// bound returns a context that ends with ctx or when the host closes, and
// the function that releases it.
func (h *Host) bound(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(h.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// closedErr adds ErrClosed to err when the host closed during the call.
func (h *Host) closedErr(ctx context.Context, err error) error {
	if err != nil && h.ctx.Err() != nil && ctx.Err() == nil {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}

// Socket creates a socket, as socket.socket(family, type, proto) does; see
// [stack.Stack.Socket]. The socket is closed when the host is.
func (h *Host) Socket(family stack.Family, typ stack.SockType, proto int) (*stack.Socket, error) {
	done, err := h.open("socket")
	if err != nil {
		return nil, err
	}
	defer done()
	return h.Stack.Socket(family, typ, proto)
}

// Listen opens a TCP socket listening on addr; see [stack.Stack.Listen] and,
// with a string address, [Host.ListenTCP].
func (h *Host) Listen(addr netip.AddrPort, backlog int) (net.Listener, error) {
	done, err := h.open("listen")
	if err != nil {
		return nil, err
	}
	defer done()
	return h.Stack.Listen(addr, backlog)
}

// ListenPacket opens a UDP socket bound to addr; see
// [stack.Stack.ListenPacket] and, with a string address, [Host.ListenUDP].
func (h *Host) ListenPacket(addr netip.AddrPort) (net.PacketConn, error) {
	done, err := h.open("listen")
	if err != nil {
		return nil, err
	}
	defer done()
	return h.Stack.ListenPacket(addr)
}

// DialUDP opens a UDP socket connected to raddr; see [stack.Stack.DialUDP].
func (h *Host) DialUDP(raddr netip.AddrPort) (net.Conn, error) {
	done, err := h.open("dial")
	if err != nil {
		return nil, err
	}
	defer done()
	return h.Stack.DialUDP(raddr)
}

// DialTCP opens a TCP connection to addr, waiting for the handshake until it
// completes, fails, ctx ends or the host closes; see [stack.Stack.DialTCP].
func (h *Host) DialTCP(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
	if h.ctx.Err() != nil {
		return nil, fmt.Errorf("dial on host %s: %w", h.Name(), ErrClosed)
	}
	bctx, release := h.bound(ctx)
	defer release()
	c, err := h.Stack.DialTCP(bctx, addr)
	return c, h.closedErr(ctx, err)
}

// DialContext connects to address on the named network ("tcp" or "udp"),
// with the signature of net.Dialer.DialContext and
// http.Transport.DialContext; see [stack.Stack.DialContext].
func (h *Host) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if h.ctx.Err() != nil {
		return nil, fmt.Errorf("dial on host %s: %w", h.Name(), ErrClosed)
	}
	bctx, release := h.bound(ctx)
	defer release()
	done, err := h.open("dial")
	if err != nil {
		return nil, err
	}
	// A TCP dial waits for the handshake; only the opening of its socket
	// holds off Close, which then closes it (and bctx ends the wait).
	if strings.HasPrefix(network, "tcp") {
		done()
		done = func() {}
	}
	defer done()
	c, err := h.Stack.DialContext(bctx, network, address)
	return c, h.closedErr(ctx, err)
}

// Dial connects to address on the named network, as net.Dial does: "tcp"
// (or "tcp4") opens a TCP connection, waiting for the handshake; "udp" (or
// "udp4") opens a UDP socket connected to address. address is
// "A.B.C.D:port": tipy has no name resolver.
func (h *Host) Dial(network, address string) (net.Conn, error) {
	return h.DialContext(context.Background(), network, address)
}

// Ping sends ICMP echo requests to dst and collects the answers until
// every request is answered or timed out, ctx ends or the host closes; see
// [stack.Stack.Ping].
func (h *Host) Ping(ctx context.Context, dst netip.Addr, o stack.PingOptions) (stack.PingResult, error) {
	if h.ctx.Err() != nil {
		return stack.PingResult{}, fmt.Errorf("ping on host %s: %w", h.Name(), ErrClosed)
	}
	bctx, release := h.bound(ctx)
	defer release()
	res, err := h.Stack.Ping(bctx, dst, o)
	return res, h.closedErr(ctx, err)
}

// Addr returns the address of the host's first interface, 10.0.0.1 for a
// host configured with 10.0.0.1/24.
func (h *Host) Addr() netip.Addr { return h.Iface().Addr().Addr() }

// ListenTCP opens a TCP socket listening on address, as
// net.Listen("tcp", address) does: "A.B.C.D:port" for one of the host's
// addresses, ":port" (or "0.0.0.0:port") for all of them; port 0 picks an
// ephemeral port. The listener's Accept returns each connection as a
// net.Conn (a *stack.Conn).
func (h *Host) ListenTCP(address string) (net.Listener, error) {
	ap, err := parseListenAddr(address)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: "tcp", Err: err}
	}
	return h.Listen(ap, 0)
}

// ListenUDP opens a UDP socket bound to address (written as for ListenTCP)
// and returns it as a net.PacketConn (a *stack.PacketConn), as
// net.ListenPacket("udp", address) does.
func (h *Host) ListenUDP(address string) (net.PacketConn, error) {
	ap, err := parseListenAddr(address)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: "udp", Err: err}
	}
	return h.ListenPacket(ap)
}

// parseListenAddr reads "A.B.C.D:port" or ":port".
func parseListenAddr(address string) (netip.AddrPort, error) {
	s := address
	if strings.HasPrefix(s, ":") {
		s = "0.0.0.0" + s
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, &net.AddrError{Err: "want A.B.C.D:port or :port (tipy has no name resolver)", Addr: address}
	}
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	if !ap.Addr().Is4() {
		return netip.AddrPort{}, &net.AddrError{Err: "tipy speaks IPv4 only", Addr: address}
	}
	return ap, nil
}
