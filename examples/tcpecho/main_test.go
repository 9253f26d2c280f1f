package main

import (
	"bytes"
	"testing"
)

func TestTCPEchoInVirtualNetwork(t *testing.T) {
	var out bytes.Buffer
	if err := run(nil, &out); err != nil {
		t.Fatal(err)
	}
	want := `tipy: connected to 10.0.0.2:7 from 10.0.0.1:35403
tipy: sent "hello, tipy", received "hello, tipy"
tipy: sent "a TCP echo", received "a TCP echo"
tipy: sent "over a userspace stack", received "over a userspace stack"
peer: echoed 46 bytes and closed
`
	if got := out.String(); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}

func TestTCPEchoFlags(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"-port", "2007", "-lines", "one|two", "-seed", "9"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"to 10.0.0.2:2007 from 10.0.0.1:", `sent "one", received "one"`, `sent "two", received "two"`, "peer: echoed 8 bytes"} {
		if !bytes.Contains(out.Bytes(), []byte(want)) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
