package stack

import (
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/tcp"
	"github.com/tipy/tipy/stack/wire"
)

// The data path's free lists. A segment in steady state allocates nothing:
// the packet a segment is built in comes back to the stack once the link
// has taken its copy (tap.Link.Send keeps no bytes), the Datagram that
// carries a received frame up the layers is reused once the handlers have
// returned (they keep nothing of it either: the frame itself is only valid
// during the call), and TCP's send and receive buffers borrow their storage
// only while they hold bytes. All of it is loop state, like the rest of the
// stack.

// Free-list bounds: enough for the nesting of a receive that sends (an
// ACK, a reply), small enough to be noise next to one connection's buffers.
const (
	maxFreePackets   = 16
	maxFreeDatagrams = 8
	// packetBufMin is the smallest storage of a pooled packet: a
	// 1500-byte datagram with the largest headroom.
	packetBufMin = 2048
	// packetBufMax is the largest storage the free list keeps.
	packetBufMax = 64 << 10
	// bufPoolIdle and bufPoolBytes bound the idle TCP buffer storage a
	// stack keeps for the next connection that has bytes to hold.
	bufPoolIdle  = 8
	bufPoolBytes = 16 << 20
)

type dataPath struct {
	ipv4    func(now clock.Time, ifc *Iface, frame wire.Ethernet) // the EtherType 0x0800 handler, without a map lookup
	packets []*Packet
	dgrams  []*Datagram
	bufs    *tcp.BufferPool
}

// tcpBuffers returns the pool TCP's buffers borrow from.
func (dp *dataPath) tcpBuffers() *tcp.BufferPool {
	if dp.bufs == nil {
		dp.bufs = tcp.NewBufferPool(bufPoolIdle, bufPoolBytes)
	}
	return dp.bufs
}

// handler returns the handler of EtherType t.
func (s *Stack) handler(t wire.EtherType) func(now clock.Time, ifc *Iface, frame wire.Ethernet) {
	if t == wire.EtherTypeIPv4 && s.dp.ipv4 != nil {
		return s.dp.ipv4
	}
	return s.handlers[t]
}

// packet returns a packet for an n-byte payload behind headroom bytes,
// as NewPacket does, from the free list when it has one. Its bytes are not
// zeroed: the caller writes all of them. Give it back with releasePacket
// once the link has sent it.
func (dp *dataPath) packet(headroom, n int) *Packet {
	size := headroom + n
	var p *Packet
	if k := len(dp.packets); k > 0 {
		p = dp.packets[k-1]
		dp.packets[k-1] = nil
		dp.packets = dp.packets[:k-1]
	} else {
		p = new(Packet)
	}
	if cap(p.buf) < size {
		p.buf = make([]byte, size, max(size, packetBufMin))
	}
	p.buf, p.off = p.buf[:size], headroom
	return p
}

// releasePacket puts p on the free list. p must not be used afterwards.
func (dp *dataPath) releasePacket(p *Packet) {
	if cap(p.buf) > packetBufMax || len(dp.packets) >= maxFreePackets {
		return
	}
	dp.packets = append(dp.packets, p)
}

// datagram returns a zeroed Datagram for a received frame.
func (dp *dataPath) datagram() *Datagram {
	if k := len(dp.dgrams); k > 0 {
		d := dp.dgrams[k-1]
		dp.dgrams[k-1] = nil
		dp.dgrams = dp.dgrams[:k-1]
		return d
	}
	return new(Datagram)
}

// releaseDatagram zeroes d (dropping its references to the frame) and
// puts it on the free list.
func (dp *dataPath) releaseDatagram(d *Datagram) {
	*d = Datagram{}
	if len(dp.dgrams) < maxFreeDatagrams {
		dp.dgrams = append(dp.dgrams, d)
	}
}
