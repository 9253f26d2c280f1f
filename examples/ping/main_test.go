package main

import (
	"regexp"
	"testing"

	"github.com/tipy/tipy/examples/internal/demotest"
)

// times are the round-trip times, which depend on how the goroutines were
// scheduled.
var times = regexp.MustCompile(`time=\d+\.\d{3} ms`)

func TestPingInVirtualNetwork(t *testing.T) {
	out := demotest.Run(t, run, "-interval", "10ms")
	demotest.Equal(t, times.ReplaceAllString(out, "time=T ms"), `PING 10.0.0.2: 56 data bytes, ICMP id 2375
64 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=T ms
64 bytes from 10.0.0.2: icmp_seq=2 ttl=64 time=T ms
64 bytes from 10.0.0.2: icmp_seq=3 ttl=64 time=T ms
--- 10.0.0.2 ping statistics ---
3 packets transmitted, 3 received, 0% packet loss
`)
}

func TestPingUsage(t *testing.T) {
	demotest.UsageErrors(t, run,
		[]string{"-tap", "tap0", "-ip", "192.168.2.7/24"}, // whom to ping?
		[]string{"-peer", "10.0.0.2"},                     // -peer goes with -tap
		[]string{"-tap", "tap0"},                          // no -ip
		[]string{"extra"},
	)
}
