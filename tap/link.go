package tap

import "github.com/tipy/tipy/stack/wire"

// Handler receives one frame from a link. It runs on the loop that owns the
// receiving stack. The frame is only valid during the call: a handler that
// keeps bytes must copy them.
type Handler func(frame []byte)

// Link is a frame device: what a stack needs to send and receive Ethernet
// frames. A TAP device, a port of a virtual switch, and the wrappers that
// capture or impair a link all implement it.
type Link interface {
	// Name identifies the link in events and captures ("tap7", "lan/tipy").
	Name() string
	// MTU is the largest IP datagram the link carries (1500 for Ethernet),
	// not counting the 14-byte Ethernet header.
	MTU() int
	// MAC is the hardware address of the link's end, the stack's own MAC.
	MAC() wire.MAC
	// Send transmits one complete Ethernet frame (no FCS). It is called on
	// the owner loop, never blocks for long, and does not keep frame after it
	// returns. A frame the link cannot take is dropped and reported through
	// the error, never panics.
	Send(frame []byte) error
	// SetHandler sets the function that receives frames from now on (nil
	// stops delivery). Frames are delivered on the loop the link was made
	// with.
	SetHandler(h Handler)
	// Close stops the link; Send fails afterwards.
	Close() error
}
