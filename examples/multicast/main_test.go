package main

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tipy/tipy/examples/internal/demo"
)

func TestMulticastInVirtualNetwork(t *testing.T) {
	var out bytes.Buffer
	if err := run(nil, &out); err != nil {
		t.Fatal(err)
	}
	want := `peer: joined 239.1.2.3 on 10.0.0.2, listening on port 5000
tipy: sent "message 1" to 239.1.2.3:5000
peer: received "message 1" from 10.0.0.1:35403
tipy: sent "message 2" to 239.1.2.3:5000
peer: received "message 2" from 10.0.0.1:35403
tipy: sent "message 3" to 239.1.2.3:5000
peer: received "message 3" from 10.0.0.1:35403
peer: left 239.1.2.3
`
	if got := out.String(); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}

func TestMulticastUsage(t *testing.T) {
	var usage *demo.UsageError
	for _, args := range [][]string{{"-group", "10.0.0.9"}, {"-group", "ff02::1"}, {"-tap", "t", "-ip", "10.0.0.1/24", "-peer", "10.0.0.2"}} {
		if err := run(args, new(bytes.Buffer)); !errors.As(err, &usage) {
			t.Errorf("run(%q): %v, want a usage error", args, err)
		}
	}
}
