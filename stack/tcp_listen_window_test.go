package stack_test

import (
	"net/netip"
	"testing"

	"github.com/tipy/tipy/stack"
)

// TestTCPSynAckWindowIsTheReceiveBuffer: the SYN-ACK of a passive open
// offers the listener's receive buffer, whatever the peer's ISN (an
// unset right edge once made the window 65535 for half of all ISNs).
func TestTCPSynAckWindowIsTheReceiveBuffer(t *testing.T) {
	sc := newScripted(t, nil)
	ls := sc.socket()
	if err := ls.SetSockopt(stack.SOL_SOCKET, stack.SO_RCVBUF, 8192); err != nil {
		t.Fatal(err)
	}
	if err := ls.Bind(netip.AddrPortFrom(netip.IPv4Unspecified(), 80)); err != nil {
		t.Fatal(err)
	}
	if err := ls.Listen(8); err != nil {
		t.Fatal(err)
	}
	for i, isn := range []uint32{1000, 0x7fff0000, 0x80001000, 0xfffffff0} {
		port := uint16(4000 + i)
		sc.inject(port, 80, fS, isn, 0, 20000, mss1000, nil)
		sc.expect(fSA, sc.firstSeq(), isn+1, withWindow(8192))
	}
}
