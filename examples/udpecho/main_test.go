package main

import (
	"bytes"
	"testing"
)

func TestUDPEchoInVirtualNetwork(t *testing.T) {
	var out bytes.Buffer
	if err := run(nil, &out); err != nil {
		t.Fatal(err)
	}
	want := `tipy: sending to 10.0.0.2:7 from 10.0.0.1:35403
tipy: sent "ping 1", received "ping 1"
tipy: sent "ping 2", received "ping 2"
tipy: sent "ping 3", received "ping 3"
peer: echoed 3 datagrams
`
	if got := out.String(); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}
