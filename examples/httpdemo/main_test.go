package main

import (
	"testing"

	"github.com/tipy/tipy/examples/internal/demotest"
)

func TestHTTPInVirtualNetwork(t *testing.T) {
	demotest.Equal(t, demotest.Run(t, run), `tipy: GET http://10.0.0.2:80/ on a new connection from 10.0.0.1:35403
tipy: HTTP/1.1 200 OK, text/plain; charset=utf-8
tipy: body "hello from peer, served by Go's net/http on tipy\n"
tipy: sending "tipy speaks HTTP"
tipy: POST http://10.0.0.2:80/upper on a reused connection from 10.0.0.1:35403
tipy: HTTP/1.1 200 OK, text/plain; charset=utf-8
tipy: body "TIPY SPEAKS HTTP"
`)
}
