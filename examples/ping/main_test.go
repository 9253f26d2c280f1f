package main

import (
	"bytes"
	"errors"
	"regexp"
	"testing"

	"github.com/tipy/tipy/examples/internal/demo"
)

// times are the round-trip times, which depend on how the goroutines were
// scheduled.
var times = regexp.MustCompile(`time=\d+\.\d{3} ms`)

func TestPingInVirtualNetwork(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"-interval", "10ms"}, &out); err != nil {
		t.Fatal(err)
	}
	got := times.ReplaceAllString(out.String(), "time=T ms")
	want := `PING 10.0.0.2: 56 data bytes, ICMP id 2375
64 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=T ms
64 bytes from 10.0.0.2: icmp_seq=2 ttl=64 time=T ms
64 bytes from 10.0.0.2: icmp_seq=3 ttl=64 time=T ms
--- 10.0.0.2 ping statistics ---
3 packets transmitted, 3 received, 0% packet loss
`
	if got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}

func TestPingUsage(t *testing.T) {
	var usage *demo.UsageError
	for _, args := range [][]string{
		{"-tap", "tap0", "-ip", "192.168.2.7/24"}, // whom to ping?
		{"-peer", "10.0.0.2"},                     // -peer goes with -tap
		{"-tap", "tap0"},                          // no -ip
		{"extra"},
	} {
		if err := run(args, new(bytes.Buffer)); !errors.As(err, &usage) {
			t.Errorf("run(%q): %v, want a usage error", args, err)
		}
	}
}
