package main

import (
	"testing"

	"github.com/tipy/tipy/examples/internal/demotest"
)

func TestMulticastInVirtualNetwork(t *testing.T) {
	demotest.Equal(t, demotest.Run(t, run), `peer: joined 239.1.2.3 on 10.0.0.2, listening on port 5000
tipy: sent "message 1" to 239.1.2.3:5000
peer: received "message 1" from 10.0.0.1:35403
tipy: sent "message 2" to 239.1.2.3:5000
peer: received "message 2" from 10.0.0.1:35403
tipy: sent "message 3" to 239.1.2.3:5000
peer: received "message 3" from 10.0.0.1:35403
peer: left 239.1.2.3
`)
}

func TestMulticastUsage(t *testing.T) {
	demotest.UsageErrors(t, run, []string{"-group", "10.0.0.9"}, []string{"-group", "ff02::1"}, []string{"-tap", "t", "-ip", "10.0.0.1/24", "-peer", "10.0.0.2"})
}
