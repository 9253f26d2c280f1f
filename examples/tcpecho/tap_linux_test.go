//go:build linux

package main

import (
	"testing"

	"github.com/tipy/tipy/examples/internal/demotest"
)

// TestTCPEchoOnTAP runs tipy as the client of the kernel's echo server.
func TestTCPEchoOnTAP(t *testing.T) {
	dev := demotest.New(t)
	dev.EchoTCP(t, 7)
	out := dev.Run(t, run, dev.Args("-peer", demotest.KernelAddr, "-lines", "to the kernel|and back")...)
	demotest.Contains(t, out,
		"tipy: connected to 10.199.72.1:7 from 10.199.72.2:",
		`tipy: sent "to the kernel", received "to the kernel"`,
		`tipy: sent "and back", received "and back"`,
	)
}
