package lab

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/host"
	"github.com/tipy/tipy/tap"
)

// tcpExperiments are the TCP experiments, in the order the dashboard lists
// them.
func tcpExperiments() []*Experiment {
	return []*Experiment{
		expTCPHandshake,
		expDelayedACK,
		expOOOSACK,
		expWindowScaling,
		expSlowStart,
		expFastRetransmit,
		expRTOBackoff,
		expZeroWindow,
		expLingerAbort,
		expShutdown,
	}
}

// Ports of peer's built-in services the TCP experiments use, and the ports
// of the experiments' own listeners on peer (one each, so that a listener
// never meets the connections another experiment left in TIME-WAIT).
const (
	tcpPortEcho    = 7
	tcpPortDiscard = 9

	tcpPortOOO      = 5003
	tcpPortWScale   = 5004
	tcpPortRTO      = 5007
	tcpPortZeroWnd  = 5008
	tcpPortLinger   = 5009
	tcpPortShutdown = 5010
)

// tcpPeer is peer's address with port p.
func tcpPeer(p uint16) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr(PeerAddr), p) }

// tcpOpt is one socket option to set before bind or connect.
type tcpOpt struct {
	level stack.Level
	name  string
	value any
}

// tcpSockets opens stream sockets for an experiment and closes every one
// of them at the end, whatever happened.
type tcpSockets struct {
	mu   sync.Mutex
	list []*stack.Socket
}

// open makes a stream socket on h with opts set.
func (ts *tcpSockets) open(h *host.Host, opts ...tcpOpt) (*stack.Socket, error) {
	so, err := h.Socket(stack.AF_INET, stack.SOCK_STREAM, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", h.Name(), err)
	}
	ts.add(so)
	for _, o := range opts {
		if err := so.SetSockopt(o.level, o.name, o.value); err != nil {
			return nil, fmt.Errorf("%s: setsockopt %s: %w", h.Name(), o.name, err)
		}
	}
	return so, nil
}

// add takes charge of a socket (one Accept returned).
func (ts *tcpSockets) add(so *stack.Socket) {
	ts.mu.Lock()
	ts.list = append(ts.list, so)
	ts.mu.Unlock()
}

// closeAll closes the sockets not yet closed; closing an already closed
// socket only returns EBADF, which does not matter here.
func (ts *tcpSockets) closeAll() {
	ts.mu.Lock()
	list := ts.list
	ts.list = nil
	ts.mu.Unlock()
	for _, so := range list {
		so.Close()
	}
}

// listen opens a listening socket on peer's port p (SO_REUSEADDR, so that
// a second run binds while connections of the first wait in TIME-WAIT).
func (ts *tcpSockets) listen(h *host.Host, p uint16, opts ...tcpOpt) (*stack.Socket, error) {
	opts = append([]tcpOpt{{stack.SOL_SOCKET, stack.SO_REUSEADDR, true}}, opts...)
	ls, err := ts.open(h, opts...)
	if err != nil {
		return nil, err
	}
	if err := ls.Bind(netip.AddrPortFrom(netip.IPv4Unspecified(), p)); err != nil {
		return nil, fmt.Errorf("%s: %w", h.Name(), err)
	}
	if err := ls.Listen(4); err != nil {
		return nil, fmt.Errorf("%s: %w", h.Name(), err)
	}
	return ls, nil
}

// dial opens a stream socket on h with opts and connects it to to.
func (ts *tcpSockets) dial(ctx context.Context, h *host.Host, to netip.AddrPort, opts ...tcpOpt) (*stack.Socket, error) {
	so, err := ts.open(h, opts...)
	if err != nil {
		return nil, err
	}
	if err := so.ConnectContext(ctx, to); err != nil {
		return nil, fmt.Errorf("%s: %w", h.Name(), err)
	}
	return so, nil
}

// accept takes the next connection of ls.
func (ts *tcpSockets) accept(ctx context.Context, ls *stack.Socket) (*stack.Socket, error) {
	c, _, err := ls.AcceptContext(ctx)
	if err != nil {
		return nil, err
	}
	ts.add(c)
	return c, nil
}

// connect opens a listener of peer on port p, with the options serverOpts,
// connects a socket of tipy, with the options opts, to it, and returns both
// ends of the connection.
func (ts *tcpSockets) connect(ctx context.Context, env *Env, p uint16, serverOpts []tcpOpt, opts ...tcpOpt) (client, server *stack.Socket, err error) {
	ls, err := ts.listen(env.Host("peer"), p, serverOpts...)
	if err != nil {
		return nil, nil, err
	}
	client, err = ts.dial(ctx, env.Tipy(), tcpPeer(p), opts...)
	if err != nil {
		return nil, nil, err
	}
	server, err = ts.accept(ctx, ls)
	if err != nil {
		return nil, nil, err
	}
	return client, server, nil
}

// tcpSendAll sends all of b on so (Send takes what fits in the send
// buffer and returns how much, as socket.send does).
func tcpSendAll(ctx context.Context, so *stack.Socket, b []byte) error {
	for len(b) > 0 {
		n, err := so.SendContext(ctx, b)
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// tcpRecvN reads exactly n bytes from so; a shorter stream is an error.
func tcpRecvN(ctx context.Context, so *stack.Socket, n int) ([]byte, error) {
	out := make([]byte, 0, n)
	for len(out) < n {
		b, err := so.RecvContext(ctx, n-len(out))
		if err != nil {
			return out, err
		}
		if len(b) == 0 {
			return out, fmt.Errorf("end of stream after %d of %d bytes", len(out), n)
		}
		out = append(out, b...)
	}
	return out, nil
}

// tcpDrain reads so to the end of the stream and returns the number of bytes
// and their SHA-256.
func tcpDrain(ctx context.Context, so *stack.Socket) (int, [32]byte, error) {
	h := sha256.New()
	n := 0
	var sum [32]byte
	for {
		b, err := so.RecvContext(ctx, 1<<20)
		if err != nil {
			return n, sum, err
		}
		if len(b) == 0 {
			copy(sum[:], h.Sum(nil))
			return n, sum, nil
		}
		h.Write(b)
		n += len(b)
	}
}

// tcpSendNow hands all of b to so in the current turn of the loop, where it
// must run: Send at now, failing when the send buffer takes less.
func tcpSendNow(now clock.Time, so *stack.Socket, b []byte) error {
	n, err := so.SendToNow(now, b, netip.AddrPort{})
	if err == nil && n != len(b) {
		err = fmt.Errorf("the send buffer took %d of %d bytes", n, len(b))
	}
	return err
}

// tcpEchoLine sends line on so, a connection to an echo service, and reads
// it back.
func tcpEchoLine(ctx context.Context, so *stack.Socket, line []byte) error {
	if err := tcpSendAll(ctx, so, line); err != nil {
		return err
	}
	got, err := tcpRecvN(ctx, so, len(line))
	if err != nil {
		return fmt.Errorf("echo: %w", err)
	}
	if err := tcpSameBytes(got, line); err != nil {
		return fmt.Errorf("echo: %w", err)
	}
	return nil
}

// tcpExpectStream reads so to the end of the stream and fails unless it
// carried exactly want, the bytes tipy sent.
func tcpExpectStream(ctx context.Context, so *stack.Socket, want []byte) error {
	n, sum, err := tcpDrain(ctx, so)
	if err != nil {
		return err
	}
	if n != len(want) || sum != tcpSHA256(want) {
		return fmt.Errorf("received %d bytes that are not the %d bytes tipy sent", n, len(want))
	}
	return nil
}

// tcpPeerReceives starts peer's side of a transfer from tipy in the
// background: it reads server to the end of the stream, checks that it
// carried exactly data, and closes server.
func tcpPeerReceives(ctx context.Context, server *stack.Socket, data []byte) *tcpWorker {
	return tcpGo(func() error {
		if err := tcpExpectStream(ctx, server, data); err != nil {
			return fmt.Errorf("peer: %w", err)
		}
		return server.Close()
	})
}

// tcpFinish ends tipy's side of a connection the orderly way: it shuts
// down so's sending side (a FIN follows the data), waits for peer's worker,
// if any, to have read everything and closed, and reads so until peer's FIN.
func tcpFinish(ctx context.Context, so *stack.Socket, peer *tcpWorker) error {
	if err := so.Shutdown(stack.SHUT_WR); err != nil {
		return err
	}
	if peer != nil {
		if err := peer.wait(ctx); err != nil {
			return err
		}
	}
	return tcpExpectEOF(ctx, so)
}

// tcpExpectEOF reads so and fails unless the stream ends without more data.
func tcpExpectEOF(ctx context.Context, so *stack.Socket) error {
	b, err := so.RecvContext(ctx, 4096)
	if err != nil {
		return err
	}
	if len(b) > 0 {
		return fmt.Errorf("%d bytes where the end of the stream was expected", len(b))
	}
	return nil
}

// tcpPattern returns n bytes of a stream that is the same on every run, so
// that the receiver can check it byte for byte.
func tcpPattern(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x7469707974637021))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// tcpSameBytes reports whether got is want, and where they first differ.
func tcpSameBytes(got, want []byte) error {
	if bytes.Equal(got, want) {
		return nil
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Errorf("byte %d differs (%d bytes received, %d sent)", i, len(got), len(want))
		}
	}
	return fmt.Errorf("%d bytes received, %d sent", len(got), len(want))
}

// labLink returns the lab link called name ("lan/peer").
func labLink(env *Env, name string) (*tap.Port, error) {
	p := env.Net.Port(name)
	if p == nil {
		return nil, fmt.Errorf("no link %q in this lab", name)
	}
	return p, nil
}

// tcpImpair sets imp on the given directions of the lab link called link
// ("lan/peer") and returns a function that puts back what was there.
func tcpImpair(env *Env, link string, imp tap.Impairment, dirs ...tap.Direction) (restore func(), err error) {
	p, err := labLink(env, link)
	if err != nil {
		return nil, err
	}
	var restoreNow func()
	loop := env.Net.Loop()
	loop.Call(func() { restoreNow, err = tcpImpairNow(p, imp, dirs...) })
	if err != nil {
		return nil, err
	}
	return func() { loop.Call(restoreNow) }, nil
}

// tcpImpairNow is tcpImpair on the loop, for a change that must happen in
// the same turn as what the experiment sends: it sets imp on the given
// directions of p and returns a function that puts back what was there,
// which must run on the loop too.
func tcpImpairNow(p *tap.Port, imp tap.Impairment, dirs ...tap.Direction) (restore func(), err error) {
	old := map[tap.Direction]tap.Impairment{}
	restore = func() {
		for d, imp := range old {
			p.SetImpairment(d, imp) // it was valid before
		}
	}
	for _, d := range dirs {
		old[d] = p.Impairment(d)
		if err := p.SetImpairment(d, imp); err != nil {
			restore()
			return nil, err
		}
	}
	return restore, nil
}

// tcpSnapshotOf returns the TCP snapshot of so's connection, from its stack.
func tcpSnapshotOf(h *host.Host, so *stack.Socket) (stack.TCPSnapshot, error) {
	local, remote := so.LocalAddr().String(), so.RemoteAddr().String()
	var snap stack.TCPSnapshot
	found := false
	h.Call(func() {
		for _, c := range h.TCPConnections() {
			if c.Local == local && c.Remote == remote {
				snap, found = c, true
			}
		}
	})
	if !found {
		return snap, fmt.Errorf("%s: no connection %s-%s", h.Name(), local, remote)
	}
	return snap, nil
}

// tcpWantState fails unless so's connection, on h, is in state want.
func tcpWantState(h *host.Host, so *stack.Socket, want string) error {
	snap, err := tcpSnapshotOf(h, so)
	if err != nil {
		return err
	}
	if snap.State != want {
		return fmt.Errorf("%s's connection is %s, want %s", h.Name(), snap.State, want)
	}
	return nil
}

// tcpEffMSS is the data a full-sized segment of the connection carries: the
// peer's MSS less the timestamp option when it is in use.
func tcpEffMSS(s stack.TCPSnapshot) int {
	if s.Timestamps {
		return s.SndMSS - 12
	}
	return s.SndMSS
}

// tcpWorker is a function running in its own goroutine (tcpGo starts
// one); wait returns its error.
type tcpWorker struct {
	done chan struct{}
	err  error
}

func tcpGo(f func() error) *tcpWorker {
	w := &tcpWorker{done: make(chan struct{})}
	go func() {
		defer close(w.done)
		w.err = f()
	}()
	return w
}

// wait waits for the tcpWorker, or for ctx.
func (w *tcpWorker) wait(ctx context.Context) error {
	select {
	case <-w.done:
		return w.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// tcpIsReset reports whether err is ECONNRESET.
func tcpIsReset(err error) bool { return errors.Is(err, stack.ECONNRESET) }

// tcpWaitFor polls the snapshot of so, a socket of tipy, every 50 ms of the
// lab's clock until cond holds for it, for at most limit of that clock.
func tcpWaitFor(ctx context.Context, env *Env, so *stack.Socket, limit time.Duration, what string, cond func(s stack.TCPSnapshot) bool) error {
	for t := time.Duration(0); ; t += 50 * time.Millisecond {
		if s, err := tcpSnapshotOf(env.Tipy(), so); err == nil && cond(s) {
			return nil
		}
		if t >= limit {
			return fmt.Errorf("%s: not within %v", what, limit)
		}
		if err := env.Sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// tcpSHA256 is the SHA-256 of b.
func tcpSHA256(b []byte) [32]byte { return sha256.Sum256(b) }
