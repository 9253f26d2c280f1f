package stack

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/tipy/tipy/stack/clock"
)

// The socket API: Python's socket module, in Go. A program calls these
// methods from its own goroutines; each call runs on the stack's loop through
// Loop.Call, and a call that must wait (Recv with no data, Accept with no
// connection, Connect until the handshake ends) waits outside the loop until
// the socket changes, so the stack never blocks. Timeouts run on the stack's
// clock: in a virtual lab, a 2-second timeout is 2 virtual seconds.

// Family is an address family. tipy has one.
type Family int

// AF_INET is IPv4.
const AF_INET Family = 2

// SockType is a socket type.
type SockType int

// Socket types.
const (
	SOCK_STREAM SockType = 1 // TCP
	SOCK_DGRAM  SockType = 2 // UDP
	SOCK_RAW    SockType = 3 // raw IPv4
)

// String returns the type's name as the API shows it: "stream", "dgram" or
// "raw".
func (t SockType) String() string {
	switch t {
	case SOCK_STREAM:
		return "stream"
	case SOCK_DGRAM:
		return "dgram"
	case SOCK_RAW:
		return "raw"
	}
	return fmt.Sprintf("socktype-%d", int(t))
}

// How says which direction Shutdown closes.
type How int

// Shutdown directions.
const (
	SHUT_RD   How = 0
	SHUT_WR   How = 1
	SHUT_RDWR How = 2
)

// sockImpl is what a socket type (UDP, raw, TCP) provides. Every method runs
// on the loop, never blocks, and returns EAGAIN when the caller should wait
// for the socket to change (the socket layer then waits and retries).
type sockImpl interface {
	bind(now clock.Time, addr netip.AddrPort) error
	connect(now clock.Time, addr netip.AddrPort) error
	listen(now clock.Time, backlog int) error
	accept(now clock.Time) (*Socket, error)
	send(now clock.Time, b []byte, to netip.AddrPort, hasTo bool) (int, error)
	recv(now clock.Time, max int, peek bool) ([]byte, netip.AddrPort, error)
	shutdown(now clock.Time, how How) error
	close(now clock.Time) error
	// info adds type-specific details (TCP state, queue fill) to a snapshot.
	info(si *SocketInfo)
}

// Socket is one socket of a stack. Its methods may be called from any
// goroutine (but one call at a time per socket, as with a file descriptor).
type Socket struct {
	s     *Stack
	id    int
	typ   SockType
	proto int
	impl  sockImpl

	// Everything below is loop state.
	local, remote netip.AddrPort
	timeout       time.Duration // < 0: blocking without limit; 0: non-blocking; > 0: timeout
	opts          sockOpts
	softErr       error // a pending asynchronous error (SO_ERROR), returned once
	closed        bool
	waiters       []chan struct{}
	notify        func() // loop-side readiness callback, see SetNotify
}

// Socket creates a socket, as socket.socket(family, type, proto) does. For
// SOCK_RAW, proto is the IP protocol number the socket sends and receives.
func (s *Stack) Socket(family Family, typ SockType, proto int) (*Socket, error) {
	var so *Socket
	var err error
	s.loop.Call(func() { so, err = s.newSocket(s.loop.Now(), family, typ, proto) })
	return so, err
}

func (s *Stack) newSocket(now clock.Time, family Family, typ SockType, proto int) (*Socket, error) {
	if family != AF_INET {
		return nil, sockErr("socket", "", EAFNOSUPPORT, "tipy supports AF_INET only")
	}
	maker := s.sockTypes[typ]
	if maker == nil {
		return nil, sockErr("socket", "", EPROTONOSUPPORT, fmt.Sprintf("socket type %v is not available", typ))
	}
	so := &Socket{s: s, typ: typ, proto: proto, timeout: -1, opts: defaultSockOpts()}
	impl, err := maker(now, so, proto)
	if err != nil {
		return nil, err
	}
	so.impl = impl
	s.addSocket(so)
	return so, nil
}

// addSocket gives so an id and lists it. Transports that create sockets
// themselves (TCP's accept) call it too.
func (s *Stack) addSocket(so *Socket) {
	s.nextSockID++
	so.id = s.nextSockID
	s.sockets[so.id] = so
}

// RegisterSocketType installs the constructor of a socket type; the UDP, raw
// and TCP layers call it when the stack is built.
func (s *Stack) RegisterSocketType(t SockType, f func(now clock.Time, so *Socket, proto int) (sockImpl, error)) {
	s.sockTypes[t] = f
}

// SocketByID returns the open socket with the given id. Loop work only.
func (s *Stack) SocketByID(id int) (*Socket, bool) {
	so, ok := s.sockets[id]
	return so, ok
}

// Sockets returns the open sockets ordered by id. Loop work only.
func (s *Stack) Sockets() []*Socket {
	out := make([]*Socket, 0, len(s.sockets))
	for _, so := range s.sockets {
		out = append(out, so)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// ID returns the socket's id, unique within its stack.
func (so *Socket) ID() int { return so.id }

// Type returns the socket's type.
func (so *Socket) Type() SockType { return so.typ }

// Stack returns the socket's stack.
func (so *Socket) Stack() *Stack { return so.s }

// wake tells every goroutine waiting on the socket to look again. Loop
// work only; the transports call it whenever the socket may have changed.
func (so *Socket) wake() {
	for _, ch := range so.waiters {
		close(ch)
	}
	so.waiters = so.waiters[:0]
	if so.notify != nil {
		so.s.loop.Post(so.notify)
	}
}

// SetNotify sets a function that runs on the loop, as its own event, after
// anything that may have changed the socket (data arrived, room to send, an
// error, the peer closed). With it, code that runs on the loop itself (the
// built-in services, deterministic simulations) uses the socket without
// blocking, through the *Now methods. Loop work only; nil removes it.
func (so *Socket) SetNotify(f func()) { so.notify = f }

// RecvFromNow is RecvFrom for loop work: it never waits, returning EAGAIN
// when there is nothing to read.
func (so *Socket) RecvFromNow(now clock.Time, max int) ([]byte, netip.AddrPort, error) {
	if so.closed {
		return nil, netip.AddrPort{}, sockErr("recv", "", EBADF, "the socket is closed")
	}
	return so.impl.recv(now, max, false)
}

// SendToNow is SendTo (or Send, when to is the zero AddrPort) for loop
// work: it never waits, returning EAGAIN when the send buffer is full.
func (so *Socket) SendToNow(now clock.Time, b []byte, to netip.AddrPort) (int, error) {
	if so.closed {
		return 0, sockErr("send", "", EBADF, "the socket is closed")
	}
	return so.impl.send(now, b, to, to.IsValid())
}

// SocketNow creates a socket from loop work.
func (s *Stack) SocketNow(now clock.Time, family Family, typ SockType, proto int) (*Socket, error) {
	return s.newSocket(now, family, typ, proto)
}

// BindNow, ListenNow, AcceptNow, ConnectNow, ShutdownNow and CloseNow are
// the loop-work forms of the socket calls; none of them waits.
func (so *Socket) BindNow(now clock.Time, addr netip.AddrPort) error { return so.impl.bind(now, addr) }

// ListenNow is Listen for loop work.
func (so *Socket) ListenNow(now clock.Time, backlog int) error { return so.impl.listen(now, backlog) }

// AcceptNow is Accept for loop work: EAGAIN when no connection waits.
func (so *Socket) AcceptNow(now clock.Time) (*Socket, error) { return so.impl.accept(now) }

// ConnectNow starts a connection from loop work: for TCP it returns EAGAIN
// (or EINPROGRESS/EALREADY) until the handshake is done.
func (so *Socket) ConnectNow(now clock.Time, addr netip.AddrPort) error {
	return so.impl.connect(now, addr)
}

// ShutdownNow is Shutdown for loop work.
func (so *Socket) ShutdownNow(now clock.Time, how How) error { return so.impl.shutdown(now, how) }

// CloseNow is Close for loop work.
func (so *Socket) CloseNow(now clock.Time) error {
	if so.closed {
		return sockErr("close", "", EBADF, "the socket is already closed")
	}
	return so.closeLocked(now)
}

// SetSockoptNow is SetSockopt for loop work.
func (so *Socket) SetSockoptNow(now clock.Time, level Level, name string, value any) error {
	return so.setOpt(now, level, name, value)
}

// setSoftError records an asynchronous error (an ICMP error on a connected
// UDP socket) that the next call returns, and wakes waiters.
func (so *Socket) setSoftError(err error) {
	so.softErr = err
	so.wake()
}

// takeSoftError returns and clears the pending asynchronous error.
func (so *Socket) takeSoftError() error {
	err := so.softErr
	so.softErr = nil
	return err
}

// do runs f on the loop for a call that never waits.
func (so *Socket) do(op string, f func(now clock.Time) error) error {
	var err error
	so.s.loop.Call(func() {
		if so.closed {
			err = sockErr(op, "", EBADF, "the socket is closed")
			return
		}
		err = f(so.s.loop.Now())
	})
	return err
}

// wait runs try on the loop until it returns something other than EAGAIN,
// waiting in between for the socket to change, for the socket's timeout on
// the stack's clock, or for ctx.
func (so *Socket) wait(ctx context.Context, op string, try func(now clock.Time) error) error {
	var deadline clock.Time
	var timer *clock.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	first := true
	for {
		var err error
		var ch chan struct{}
		so.s.loop.Call(func() {
			now := so.s.loop.Now()
			if so.closed {
				err = sockErr(op, "", EBADF, "the socket is closed")
				return
			}
			if first {
				first = false
				if so.timeout > 0 {
					deadline = now.Add(so.timeout)
					timer = so.s.loop.Schedule(deadline, so.wake)
				}
			}
			err = try(now)
			if !isAgain(err) {
				return
			}
			switch {
			case so.timeout == 0:
				err = sockErr(op, "", EAGAIN, "the socket is non-blocking and the operation would wait")
			case so.timeout > 0 && now >= deadline:
				err = sockErr(op, "", ETIMEDOUT, fmt.Sprintf("no result within the socket timeout of %v", so.timeout))
			default:
				ch = make(chan struct{})
				so.waiters = append(so.waiters, ch)
			}
		})
		if ch == nil {
			return err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			so.s.loop.Call(func() { so.dropWaiter(ch) })
			return sockErr(op, "", ETIMEDOUT, "cancelled: "+ctx.Err().Error())
		}
	}
}

func (so *Socket) dropWaiter(ch chan struct{}) {
	for i, w := range so.waiters {
		if w == ch {
			so.waiters = append(so.waiters[:i], so.waiters[i+1:]...)
			return
		}
	}
}

// errAgain is what a transport returns when the caller must wait.
var errAgain error = EAGAIN

func isAgain(err error) bool {
	if err == nil {
		return false
	}
	if e, ok := err.(Errno); ok {
		return e == EAGAIN
	}
	if se, ok := err.(*SocketError); ok {
		return se.Errno == EAGAIN
	}
	return false
}
