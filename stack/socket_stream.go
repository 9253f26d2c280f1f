package stack

import (
	"context"

	"github.com/tipy/tipy/stack/clock"
)

// streamReader is a socket type that reads into the caller's buffer (TCP):
// the bytes leave the receive buffer with one copy, into the application's
// memory, instead of through a slice made for the call.
type streamReader interface {
	recvInto(now clock.Time, p []byte) (int, error)
}

// recvInto is RecvContext into p: it waits as RecvContext does and returns
// how many bytes it put in p; 0 and a nil error is the end of the stream.
// Socket types that cannot read in place go through RecvContext.
func (so *Socket) recvInto(ctx context.Context, p []byte) (int, error) {
	r, ok := so.impl.(streamReader)
	if !ok {
		b, err := so.RecvContext(ctx, len(p))
		return copy(p, b), err
	}
	var n int
	err := so.wait(ctx, "recv", func(now clock.Time) error {
		var err error
		n, err = r.recvInto(now, p)
		return err
	})
	return n, err
}

// recvInto reads what the receive buffer holds into p. Everything but
// in-order bytes ready to read (end of stream, errors, nothing yet) is
// recv's to decide, events included.
func (ts *tcpSock) recvInto(now clock.Time, p []byte) (int, error) {
	c := ts.c
	if c == nil || c.rdShut || len(p) == 0 || c.rcvBuf.Len() == 0 {
		b, _, err := ts.recv(now, len(p), false)
		return copy(p, b), err
	}
	n := c.rcvBuf.Read(p)
	c.windowUpdate(now)
	return n, nil
}
