package stack

// Headroom is the space reserved in front of a payload for the headers that
// the layers below prepend: Ethernet (14), IPv4 with options (60) and the
// largest transport header (TCP with options, 60).
const Headroom = 14 + 60 + 60

// Packet is a frame under construction. The payload is placed once, at the
// end of the buffer; each layer then writes its header into the headroom in
// front of what is already there, so the payload is never copied again.
type Packet struct {
	buf []byte
	off int // start of the bytes written so far
}

// NewPacket returns a packet with room for headroom bytes of headers in front
// of an n-byte payload, which Payload returns for the caller to fill.
func NewPacket(headroom, n int) *Packet {
	return &Packet{buf: make([]byte, headroom+n), off: headroom}
}

// Payload returns the payload region (everything written so far).
func (p *Packet) Payload() []byte { return p.buf[p.off:] }

// Prepend grows the packet by n bytes at the front and returns the region
// from the new front to the end: the room for a header followed by what the
// layers above wrote. It panics if the headroom is exhausted, which is a
// programming error in the stack, not an input error.
func (p *Packet) Prepend(n int) []byte {
	if n > p.off {
		panic("stack: packet headroom exhausted")
	}
	p.off -= n
	return p.buf[p.off:]
}

// Bytes returns the packet as built so far.
func (p *Packet) Bytes() []byte { return p.buf[p.off:] }

// Len returns the length of the packet as built so far.
func (p *Packet) Len() int { return len(p.buf) - p.off }
