//go:build linux

package main

import (
	"strings"
	"testing"

	"github.com/tipy/tipy/examples/internal/demotest"
)

// TestHandshakeOnTAP traces tipy's end of a handshake with the kernel.
func TestHandshakeOnTAP(t *testing.T) {
	dev := demotest.New(t)
	dev.EchoTCP(t, 80)
	out := dev.Run(t, run, dev.Args("-peer", demotest.KernelAddr)...)
	var what []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "tipy  ") {
			what = append(what, strings.Join(strings.Fields(line)[1:3], " "))
		}
	}
	want := "state CLOSED|sends [S]|receives [S.]|state SYN-SENT|sends [.]"
	if got := strings.Join(what, "|"); got != want {
		t.Errorf("tipy's end of the handshake: %s, want %s\n%s", got, want, out)
	}
	if strings.Contains(out, "peer  ") {
		t.Errorf("on a TAP device the trace has only tipy's end:\n%s", out)
	}
}
