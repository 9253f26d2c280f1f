package main

import (
	"testing"

	"github.com/tipy/tipy/examples/internal/demotest"
)

func TestUDPEchoInVirtualNetwork(t *testing.T) {
	demotest.Equal(t, demotest.Run(t, run), `tipy: sending to 10.0.0.2:7 from 10.0.0.1:35403
tipy: sent "ping 1", received "ping 1"
tipy: sent "ping 2", received "ping 2"
tipy: sent "ping 3", received "ping 3"
peer: echoed 3 datagrams
`)
}
