//go:build linux

package main

import (
	"regexp"
	"testing"

	"github.com/tipy/tipy/examples/internal/demotest"
)

// TestPingOnTAP pings the Linux kernel from tipy on a TAP device.
func TestPingOnTAP(t *testing.T) {
	dev := demotest.New(t)
	out := dev.Run(t, run, dev.Args("-peer", demotest.KernelAddr, "-count", "2", "-interval", "100ms")...)
	want := regexp.MustCompile(`(?s)tipy: 10\.199\.72\.2/24 on tp0, probing .*
64 bytes from 10\.199\.72\.1: icmp_seq=1 ttl=64 time=\S+ ms
64 bytes from 10\.199\.72\.1: icmp_seq=2 ttl=64 time=\S+ ms
.*2 packets transmitted, 2 received, 0% packet loss
$`)
	if !want.MatchString(out) {
		t.Errorf("output:\n%s", out)
	}
}
