package stack

import (
	"context"
	"net/netip"
	"time"

	"github.com/tipy/tipy/stack/clock"
)

// Bind gives the socket a local address, as socket.bind((address, port)).
// Port 0 picks an ephemeral port; the unspecified address binds every
// interface.
func (so *Socket) Bind(addr netip.AddrPort) error {
	return so.do("bind", func(now clock.Time) error { return so.impl.bind(now, addr) })
}

// Connect sets the socket's peer. For TCP it opens the connection and waits
// for the handshake; for UDP and raw sockets it only fixes the peer.
func (so *Socket) Connect(addr netip.AddrPort) error {
	return so.ConnectContext(context.Background(), addr)
}

// ConnectContext is Connect that also gives up when ctx ends.
func (so *Socket) ConnectContext(ctx context.Context, addr netip.AddrPort) error {
	return so.wait(ctx, "connect", func(now clock.Time) error { return so.impl.connect(now, addr) })
}

// Listen makes a stream socket accept connections, with a queue of backlog
// connections not yet accepted.
func (so *Socket) Listen(backlog int) error {
	return so.do("listen", func(now clock.Time) error { return so.impl.listen(now, backlog) })
}

// Accept waits for a connection and returns its socket and the peer's
// address.
func (so *Socket) Accept() (*Socket, netip.AddrPort, error) {
	return so.AcceptContext(context.Background())
}

// AcceptContext is Accept that also gives up when ctx ends.
func (so *Socket) AcceptContext(ctx context.Context) (*Socket, netip.AddrPort, error) {
	var c *Socket
	err := so.wait(ctx, "accept", func(now clock.Time) error {
		var err error
		c, err = so.impl.accept(now)
		return err
	})
	if err != nil {
		return nil, netip.AddrPort{}, err
	}
	var peer netip.AddrPort
	so.s.loop.Call(func() { peer = c.remote })
	return c, peer, nil
}

// Send sends b to the connected peer and returns how many bytes were taken.
func (so *Socket) Send(b []byte) (int, error) {
	return so.SendContext(context.Background(), b)
}

// SendContext is Send that also gives up when ctx ends.
func (so *Socket) SendContext(ctx context.Context, b []byte) (int, error) {
	var n int
	err := so.wait(ctx, "send", func(now clock.Time) error {
		var err error
		n, err = so.impl.send(now, b, netip.AddrPort{}, false)
		return err
	})
	return n, err
}

// SendTo sends b to addr (datagram and raw sockets).
func (so *Socket) SendTo(b []byte, addr netip.AddrPort) (int, error) {
	return so.SendToContext(context.Background(), b, addr)
}

// SendToContext is SendTo that also gives up when ctx ends.
func (so *Socket) SendToContext(ctx context.Context, b []byte, addr netip.AddrPort) (int, error) {
	var n int
	err := so.wait(ctx, "sendto", func(now clock.Time) error {
		var err error
		n, err = so.impl.send(now, b, addr, true)
		return err
	})
	return n, err
}

// Recv waits for data and returns at most max bytes, as socket.recv(max).
// A stream socket returns an empty slice and a nil error at end of stream.
func (so *Socket) Recv(max int) ([]byte, error) {
	b, _, err := so.RecvFromContext(context.Background(), max)
	return b, err
}

// RecvFrom is Recv that also returns the sender's address.
func (so *Socket) RecvFrom(max int) ([]byte, netip.AddrPort, error) {
	return so.RecvFromContext(context.Background(), max)
}

// RecvContext is Recv that also gives up when ctx ends.
func (so *Socket) RecvContext(ctx context.Context, max int) ([]byte, error) {
	b, _, err := so.RecvFromContext(ctx, max)
	return b, err
}

// RecvFromContext is RecvFrom that also gives up when ctx ends.
func (so *Socket) RecvFromContext(ctx context.Context, max int) ([]byte, netip.AddrPort, error) {
	var b []byte
	var from netip.AddrPort
	err := so.wait(ctx, "recv", func(now clock.Time) error {
		var err error
		b, from, err = so.impl.recv(now, max, false)
		return err
	})
	return b, from, err
}

// Shutdown closes one or both directions of a connection.
func (so *Socket) Shutdown(how How) error {
	return so.do("shutdown", func(now clock.Time) error { return so.impl.shutdown(now, how) })
}

// SetTimeout sets how long blocking calls wait, on the stack's clock, as
// socket.settimeout: a negative d blocks without limit, 0 makes the socket
// non-blocking (EAGAIN instead of waiting), a positive d gives up with
// ETIMEDOUT.
func (so *Socket) SetTimeout(d time.Duration) error {
	return so.do("settimeout", func(clock.Time) error { so.timeout = d; return nil })
}

// SetBlocking is SetTimeout(-1) or SetTimeout(0).
func (so *Socket) SetBlocking(on bool) error {
	if on {
		return so.SetTimeout(-1)
	}
	return so.SetTimeout(0)
}

// Timeout returns the socket's timeout as SetTimeout set it.
func (so *Socket) Timeout() time.Duration {
	var d time.Duration
	so.s.loop.Call(func() { d = so.timeout })
	return d
}

// Close closes the socket. A stream socket with data still to send keeps
// sending it in the background unless SO_LINGER says otherwise.
func (so *Socket) Close() error {
	// SO_LINGER with a time: a stream socket waits, on the stack's clock,
	// until its data is acknowledged or the time is up (tcp_socket.go).
	if lw, ok := so.impl.(interface{ lingerWait(now clock.Time) error }); ok {
		if err := so.wait(context.Background(), "close", lw.lingerWait); err != nil && !isAgain(err) {
			return err
		}
	}
	var err error
	so.s.loop.Call(func() {
		if so.closed {
			err = sockErr("close", "", EBADF, "the socket is already closed")
			return
		}
		err = so.closeLocked(so.s.loop.Now())
	})
	return err
}

// closeLocked closes the socket on the loop.
func (so *Socket) closeLocked(now clock.Time) error {
	so.closed = true
	err := so.impl.close(now)
	for _, g := range so.opts.memberships {
		g.iface.LeaveGroup(now, g.group)
	}
	so.opts.memberships = nil
	delete(so.s.sockets, so.id)
	so.wake()
	return err
}

// LocalAddr returns the socket's local address.
func (so *Socket) LocalAddr() netip.AddrPort {
	var a netip.AddrPort
	so.s.loop.Call(func() { a = so.local })
	return a
}

// RemoteAddr returns the socket's peer address.
func (so *Socket) RemoteAddr() netip.AddrPort {
	var a netip.AddrPort
	so.s.loop.Call(func() { a = so.remote })
	return a
}

// SocketInfo is a snapshot of a socket for the API and the dashboard.
type SocketInfo struct {
	ID        int            `json:"id"`
	Type      string         `json:"type"`
	Protocol  int            `json:"protocol"`
	State     string         `json:"state"`
	Local     string         `json:"local,omitempty"`
	Remote    string         `json:"remote,omitempty"`
	TimeoutMS *int64         `json:"timeout_ms"` // nil: blocking
	Options   map[string]any `json:"options"`
	RecvQueue int            `json:"recv_queue"` // bytes waiting to be read
	SendQueue int            `json:"send_queue"` // bytes not yet acknowledged or sent
	Counters  map[string]any `json:"counters,omitempty"`
	TCP       any            `json:"tcp,omitempty"`
}

// Info returns a snapshot of the socket.
func (so *Socket) Info() SocketInfo {
	var si SocketInfo
	so.s.loop.Call(func() { si = so.info() })
	return si
}

// info builds the snapshot on the loop.
func (so *Socket) info() SocketInfo {
	si := SocketInfo{ID: so.id, Type: so.typ.String(), Protocol: so.proto, State: "open", Options: so.opts.snapshot()}
	if so.local.IsValid() {
		si.Local = so.local.String()
	}
	if so.remote.IsValid() {
		si.Remote = so.remote.String()
	}
	if so.timeout >= 0 {
		ms := so.timeout.Milliseconds()
		si.TimeoutMS = &ms
	}
	if so.closed {
		si.State = "closed"
	}
	so.impl.info(&si)
	return si
}
