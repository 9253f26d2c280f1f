//go:build linux

package main

import (
	"testing"

	"github.com/tipy/tipy/examples/internal/demotest"
)

// TestUDPEchoOnTAP runs tipy as the client of the kernel's echo server.
func TestUDPEchoOnTAP(t *testing.T) {
	dev := demotest.New(t)
	dev.EchoUDP(t, 7)
	out := dev.Run(t, run, dev.Args("-peer", demotest.KernelAddr, "-messages", "one|two")...)
	demotest.Contains(t, out,
		"tipy: sending to 10.199.72.1:7 from 10.199.72.2:",
		`tipy: sent "one", received "one"`,
		`tipy: sent "two", received "two"`,
	)
}
