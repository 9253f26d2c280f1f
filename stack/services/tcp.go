package services

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
)

// The stream halves of echo, discard, daytime and chargen. Like the
// datagram servers they run on the stack's loop: a listening socket whose
// notification accepts every waiting connection, and on every accepted
// socket a notification that moves as many bytes as the socket allows at
// that instant, through the non-blocking *Now calls. No goroutine is
// involved, so a lab that uses them is still a function of its seed.

// recvChunk is the most a server reads in one call.
const recvChunk = 64 << 10

// streamConn is one accepted connection and what its server remembers
// between notifications.
type streamConn struct {
	set     *Set
	so      *stack.Socket
	pending []byte // echo: bytes read but not yet taken by the send buffer
	eof     bool   // the client sent its FIN
	pos     int    // chargen: position in chargenRing
	done    bool   // daytime: the line and the FIN are on their way
}

// streamServe moves bytes on c at now; it calls c.close when the
// connection is done.
type streamServe func(now clock.Time, c *streamConn)

// tcp starts a stream server on port whose connections are served by serve.
func (set *Set) tcp(now clock.Time, name string, port int, serve streamServe) error {
	so, err := set.listen(now, name, port)
	if err != nil {
		return err
	}
	loop := set.s.Loop()
	so.SetNotify(func() {
		now := loop.Now()
		for {
			cs, err := so.AcceptNow(now)
			if err != nil {
				return // EAGAIN: nobody else waits; EBADF: the server stopped
			}
			c := &streamConn{set: set, so: cs}
			set.conns = append(set.conns, c)
			cs.SetNotify(func() {
				if !c.closed() {
					serve(loop.Now(), c)
				}
			})
			serve(now, c) // bytes may have arrived before the accept
		}
	})
	set.Running = append(set.Running, Running{Service: name, Proto: "tcp", Port: port, sock: so})
	return nil
}

// listen opens a listening stream socket on port of every interface, from
// loop work.
func (set *Set) listen(now clock.Time, name string, port int) (*stack.Socket, error) {
	so, err := set.s.SocketNow(now, stack.AF_INET, stack.SOCK_STREAM, 0)
	if err != nil {
		return nil, fmt.Errorf("%s/tcp: %w", name, err)
	}
	if err := so.BindNow(now, netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(port))); err != nil {
		so.CloseNow(now)
		return nil, fmt.Errorf("%s/tcp port %d: %w", name, port, err)
	}
	if err := so.ListenNow(now, 0); err != nil {
		so.CloseNow(now)
		return nil, fmt.Errorf("%s/tcp port %d: %w", name, port, err)
	}
	return so, nil
}

// closed reports whether the server is done with c.
func (c *streamConn) closed() bool { return c.so == nil }

// close closes the connection: a FIN after the bytes still queued (or a
// reset when the client's bytes were left unread, as the TCP layer
// decides).
func (c *streamConn) close(now clock.Time) {
	if c.closed() {
		return
	}
	c.so.SetNotify(nil)
	c.so.CloseNow(now) // a failure is traced by the stack; the socket is gone either way
	c.so = nil
	c.set.conns = slices.DeleteFunc(c.set.conns, func(o *streamConn) bool { return o == c })
}

// read returns what the client sent: b with data, or eof at the end of
// the stream, or ok false when nothing is there yet (wait for the next
// notification) or the connection failed (then c is closed).
func (c *streamConn) read(now clock.Time) (b []byte, eof, ok bool) {
	b, _, err := c.so.RecvFromNow(now, recvChunk)
	switch {
	case isAgain(err):
		return nil, false, false
	case err != nil: // reset, timed out: nothing more to do
		c.close(now)
		return nil, false, false
	case len(b) == 0:
		c.eof = true
		return nil, true, true
	}
	return b, false, true
}

// write sends as much of b as the send buffer takes. It returns how many
// bytes were taken, and ok false when the connection failed (c is closed).
func (c *streamConn) write(now clock.Time, b []byte) (int, bool) {
	n, err := c.so.SendToNow(now, b, netip.AddrPort{})
	if err != nil && !isAgain(err) {
		c.close(now)
		return n, false
	}
	return n, true
}

// drain reads and forgets everything the client sent so far; it reports
// false when the client has finished (c is then closed) or the connection
// failed.
func (c *streamConn) drain(now clock.Time) bool {
	for {
		_, eof, ok := c.read(now)
		if !ok {
			return !c.closed()
		}
		if eof {
			c.close(now)
			return false
		}
	}
}

func isAgain(err error) bool { return errors.Is(err, stack.EAGAIN) }

// serveEcho sends back every byte received (RFC 862), reading only when
// the previous bytes were all taken by the send buffer, so a client that
// does not read slows down the echo rather than filling memory. When the
// client has finished sending and every byte went back, the server closes.
func serveEcho(now clock.Time, c *streamConn) {
	for {
		for len(c.pending) > 0 {
			n, ok := c.write(now, c.pending)
			if !ok {
				return
			}
			if n == 0 {
				return // the send buffer is full: wait until it drains
			}
			c.pending = c.pending[n:]
		}
		if c.eof {
			c.close(now)
			return
		}
		b, _, ok := c.read(now)
		if !ok {
			return
		}
		c.pending = b
	}
}

// serveDiscard throws away every byte received (RFC 863) and closes when
// the client has finished.
func serveDiscard(now clock.Time, c *streamConn) { c.drain(now) }

// serveDaytime sends the date and time as one line and closes its sending
// side (RFC 867: a FIN after the line), at the first notification. It then
// reads and throws away whatever the client sends until the client's FIN,
// and only then closes: closing with the client's bytes unread, or having
// them arrive after the close, would answer with a reset, and a reset can
// overtake the line the client has not read yet.
func serveDaytime(now clock.Time, c *streamConn) {
	if !c.done {
		if _, ok := c.write(now, []byte(Daytime(now))); !ok {
			return
		}
		c.done = true
		if err := c.so.ShutdownNow(now, stack.SHUT_WR); err != nil {
			c.close(now)
			return
		}
	}
	c.drain(now)
}

// serveChargen sends the rotating lines of RFC 864 for as long as the
// client stays connected, throwing away what it sends; the client's FIN or
// reset ends the connection.
func serveChargen(now clock.Time, c *streamConn) {
	if !c.drain(now) {
		return
	}
	for {
		n, ok := c.write(now, chargenRing[c.pos:])
		if !ok || n == 0 {
			return
		}
		c.pos = (c.pos + n) % len(chargenRing)
	}
}

// Chargen line geometry (RFC 864): 72 characters per line taken from the
// 95 printable ASCII characters arranged in a ring, each line starting one
// character further along, then CR LF. After 95 lines the pattern repeats.
const (
	ChargenLineLen = 72
	chargenChars   = 95
)

// chargenRing is one whole period of the chargen stream: 95 lines.
var chargenRing = func() []byte {
	b := make([]byte, 0, chargenChars*(ChargenLineLen+2))
	for line := range chargenChars {
		b = append(b, ChargenLine(line)...)
	}
	return b
}()

// ChargenLine returns line n (from 0) of the chargen stream: characters n
// to n+71 of the ring of printable ASCII characters (space to '~'), modulo
// 95, then CR LF.
func ChargenLine(n int) string {
	n = (n%chargenChars + chargenChars) % chargenChars
	var b [ChargenLineLen + 2]byte
	for j := range ChargenLineLen {
		b[j] = byte(' ' + (n+j)%chargenChars)
	}
	b[ChargenLineLen], b[ChargenLineLen+1] = '\r', '\n'
	return string(b[:])
}
