package stack_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
)

// BenchmarkTCPBulk measures one-way bulk transfer between two tipy stacks
// in one process on a clean virtual link (MTU 1500, no events): the CPU
// cost of the TCP/IP path, in bytes of payload per second of real time.
func BenchmarkTCPBulk(b *testing.B) {
	loop := clock.NewVirtual()
	sw := tap.NewSwitch(loop, "lan", nil, 1)
	var hosts [2]*stack.Stack
	for i, name := range []string{"a", "b"} {
		cfg := stack.Config{Name: name, MAC: wire.MAC{0x02, 0, 0, 0, 9, byte(i + 1)},
			Addr: netip.MustParsePrefix([]string{"10.0.9.1/24", "10.0.9.2/24"}[i]), Seed: 1}
		cfg.ARP.NoProbe = true
		s, err := stack.New(cfg, sw.AddPort(name, cfg.MAC, 1500), loop, nil)
		if err != nil {
			b.Fatal(err)
		}
		hosts[i] = s
	}
	ls, _ := hosts[1].Socket(stack.AF_INET, stack.SOCK_STREAM, 0)
	ls.SetTimeout(0)
	ls.Bind(netip.MustParseAddrPort("0.0.0.0:9"))
	ls.Listen(1)
	c, _ := hosts[0].Socket(stack.AF_INET, stack.SOCK_STREAM, 0)
	c.SetTimeout(0)
	c.Connect(netip.MustParseAddrPort("10.0.9.2:9"))
	loop.RunFor(time.Millisecond)
	if err := c.Connect(netip.MustParseAddrPort("10.0.9.2:9")); err != nil {
		b.Fatal(err)
	}
	srv, _, err := ls.Accept()
	if err != nil {
		b.Fatal(err)
	}
	srv.SetTimeout(0)
	chunk := make([]byte, 64<<10)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	b.ResetTimer()
	received := 0
	for i := 0; i < b.N; i++ {
		for off := 0; off < len(chunk); {
			n, err := c.Send(chunk[off:])
			if err == nil {
				off += n
				continue
			}
			loop.RunFor(100 * time.Microsecond)
			for {
				p, err := srv.Recv(1 << 20)
				if err != nil || len(p) == 0 {
					break
				}
				received += len(p)
			}
		}
	}
	for received < b.N*len(chunk) {
		loop.RunFor(100 * time.Microsecond)
		for {
			p, err := srv.Recv(1 << 20)
			if err != nil || len(p) == 0 {
				break
			}
			received += len(p)
		}
	}
}
