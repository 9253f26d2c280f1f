package main

import (
	"testing"

	"github.com/tipy/tipy/examples/internal/demotest"
)

func TestTCPEchoInVirtualNetwork(t *testing.T) {
	demotest.Equal(t, demotest.Run(t, run), `tipy: connected to 10.0.0.2:7 from 10.0.0.1:35403
tipy: sent "hello, tipy", received "hello, tipy"
tipy: sent "a TCP echo", received "a TCP echo"
tipy: sent "over a userspace stack", received "over a userspace stack"
peer: echoed 46 bytes and closed
`)
}

func TestTCPEchoFlags(t *testing.T) {
	out := demotest.Run(t, run, "-port", "2007", "-lines", "one|two", "-seed", "9")
	demotest.Contains(t, out, "to 10.0.0.2:2007 from 10.0.0.1:", `sent "one", received "one"`, `sent "two", received "two"`, "peer: echoed 8 bytes")
}
