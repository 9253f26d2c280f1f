package tap

import (
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// Capture is a [Link] that writes every frame crossing an inner link to a
// pcapng file and passes everything through unchanged: frames sent (the
// "out" direction) after the inner link accepted them, frames received
// ("in") before the handler sees them. Each packet gets a comment and the
// pcapng direction flag; it is written on the file's interface named after
// the inner link, added when needed.
//
// A capture that cannot write does not disturb the link: the first write
// error is kept for [Capture.Err] and later frames are not written.
type Capture struct {
	inner   Link
	loop    clock.Loop
	w       *PcapngWriter
	iface   int
	comment func(dir string, frame []byte) string
	err     error
	written uint64
}

// NewCapture wraps inner so that its frames go to w, timestamped with loop's
// clock. comment gives each packet's comment from the direction ("in" or
// "out") and the frame; nil gives "tipy <link> out" and "tipy <link> in".
func NewCapture(loop clock.Loop, inner Link, w *PcapngWriter, comment func(dir string, frame []byte) string) *Capture {
	c := &Capture{inner: inner, loop: loop, w: w, comment: comment}
	if c.comment == nil {
		prefix := "tipy " + inner.Name() + " "
		c.comment = func(dir string, _ []byte) string { return prefix + dir }
	}
	c.iface, c.err = w.Interface(inner.Name())
	return c
}

// Name returns the inner link's name.
func (c *Capture) Name() string { return c.inner.Name() }

// MTU returns the inner link's MTU.
func (c *Capture) MTU() int { return c.inner.MTU() }

// MAC returns the inner link's MAC.
func (c *Capture) MAC() wire.MAC { return c.inner.MAC() }

// Send sends frame on the inner link and, when it was accepted, writes it.
func (c *Capture) Send(frame []byte) error {
	if err := c.inner.Send(frame); err != nil {
		return err
	}
	c.record("out", frame, pcapgo.NgEpbFlagDirectionOutbound)
	return nil
}

// SetHandler sets the handler of the inner link to one that writes each
// frame and then calls h.
func (c *Capture) SetHandler(h Handler) {
	if h == nil {
		c.inner.SetHandler(nil)
		return
	}
	c.inner.SetHandler(func(frame []byte) {
		c.record("in", frame, pcapgo.NgEpbFlagDirectionInbound)
		h(frame)
	})
}

// Close closes the inner link. It leaves the writer open: other captures may
// share it, and its owner flushes it.
func (c *Capture) Close() error { return c.inner.Close() }

// Err returns the first error met while writing, if any.
func (c *Capture) Err() error { return c.err }

// Written returns the number of frames written.
func (c *Capture) Written() uint64 { return c.written }

// Inner returns the wrapped link.
func (c *Capture) Inner() Link { return c.inner }

func (c *Capture) record(dir string, frame []byte, flag pcapgo.NgEpbFlag) {
	if c.err != nil {
		return
	}
	if err := c.w.write(c.iface, c.loop.Now(), frame, c.comment(dir, frame), flag); err != nil {
		c.err = err
		return
	}
	c.written++
}
