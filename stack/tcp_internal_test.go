package stack

import (
	"net/netip"
	"testing"
	"time"

	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
)

// TestTCPLingerWait checks the blocking half of Close with SO_LINGER on
// (lingerWait), which Socket.Close calls for SO_LINGER: EAGAIN until the FIN
// is acknowledged, then nil; and a reset when the peer never acknowledges.
func TestTCPLingerWait(t *testing.T) {
	loop := clock.NewVirtual()
	sw := tap.NewSwitch(loop, "lan", nil, 1)
	var hosts [2]*Stack
	for i, a := range []string{"10.0.5.1/24", "10.0.5.2/24"} {
		cfg := Config{Name: a, MAC: wire.MAC{2, 0, 0, 0, 5, byte(i + 1)}, Addr: netip.MustParsePrefix(a), Seed: 1}
		cfg.ARP.NoProbe = true
		s, err := New(cfg, sw.AddPort(a, cfg.MAC, 1500), loop, nil)
		if err != nil {
			t.Fatal(err)
		}
		hosts[i] = s
	}
	ls, _ := hosts[1].Socket(AF_INET, SOCK_STREAM, 0)
	ls.Bind(netip.MustParseAddrPort("0.0.0.0:9"))
	ls.Listen(4)
	c, _ := hosts[0].Socket(AF_INET, SOCK_STREAM, 0)
	c.SetTimeout(0)
	c.Connect(netip.MustParseAddrPort("10.0.5.2:9"))
	loop.RunFor(time.Millisecond)
	c.SetSockopt(SOL_SOCKET, SO_LINGER, Linger{On: true, Seconds: 5})
	c.Send([]byte("data"))
	ts := c.impl.(*tcpSock)
	var err error
	loop.Call(func() { err = ts.lingerWait(loop.Now()) })
	if !isAgain(err) {
		t.Fatalf("lingerWait before the ACK: %v, want EAGAIN", err)
	}
	loop.RunFor(100 * time.Millisecond)
	loop.Call(func() { err = ts.lingerWait(loop.Now()) })
	if err != nil || !ts.c.finAcked() {
		t.Fatalf("lingerWait after the ACK: %v (FIN acknowledged: %v)", err, ts.c.finAcked())
	}

	// A peer that vanishes: the linger time ends the wait with a reset.
	c2, _ := hosts[0].Socket(AF_INET, SOCK_STREAM, 0)
	c2.SetTimeout(0)
	c2.Connect(netip.MustParseAddrPort("10.0.5.2:9"))
	loop.RunFor(time.Millisecond)
	c2.SetSockopt(SOL_SOCKET, SO_LINGER, Linger{On: true, Seconds: 2})
	hosts[1].Link().SetHandler(nil) // the peer hears nothing more
	c2.Send([]byte("lost"))
	ts2 := c2.impl.(*tcpSock)
	loop.Call(func() { err = ts2.lingerWait(loop.Now()) })
	if !isAgain(err) {
		t.Fatalf("lingerWait: %v, want EAGAIN", err)
	}
	loop.RunFor(2*time.Second + time.Millisecond)
	loop.Call(func() { err = ts2.lingerWait(loop.Now()) })
	if err != nil || ts2.c.state != TCPClosed {
		t.Fatalf("after the linger time: %v, state %v", err, ts2.c.state)
	}
}
