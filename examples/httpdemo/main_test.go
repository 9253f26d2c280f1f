package main

import (
	"bytes"
	"testing"
)

func TestHTTPInVirtualNetwork(t *testing.T) {
	var out bytes.Buffer
	if err := run(nil, &out); err != nil {
		t.Fatal(err)
	}
	want := `tipy: GET http://10.0.0.2:80/ on a new connection from 10.0.0.1:35403
tipy: HTTP/1.1 200 OK, text/plain; charset=utf-8
tipy: body "hello from peer, served by Go's net/http on tipy\n"
tipy: sending "tipy speaks HTTP"
tipy: POST http://10.0.0.2:80/upper on a reused connection from 10.0.0.1:35403
tipy: HTTP/1.1 200 OK, text/plain; charset=utf-8
tipy: body "TIPY SPEAKS HTTP"
`
	if got := out.String(); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}
