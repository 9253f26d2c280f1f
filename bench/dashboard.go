package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/coder/websocket"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/web"
)

// dashboardStream serves tipy's web API on loopback with the pair's
// hosts and bus, and reads its event stream (/api/v1/events, every
// event) with a WebSocket client, as the dashboard does.
func dashboardStream(ctx context.Context, bus *observe.Bus, p *tipyPair) (func(), error) {
	srv, err := web.New(web.Config{Hosts: []*stack.Stack{p.a, p.b}, Bus: bus, Listen: "127.0.0.1:0", Mode: web.ModeTAP})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		return nil, err
	}
	hs := &http.Server{Handler: srv}
	go hs.Serve(ln)
	cctx, cancel := context.WithCancel(context.Background())
	conn, _, err := websocket.Dial(ctx, "ws://"+ln.Addr().String()+"/api/v1/events", nil)
	if err != nil {
		cancel()
		hs.Close()
		srv.Close()
		return nil, fmt.Errorf("event stream: %w", err)
	}
	conn.SetReadLimit(-1)
	read := make(chan int, 1)
	go func() {
		// Every message is read to its end, into one buffer: the browser
		// that stands behind this client runs elsewhere, so what it costs
		// to hold a message is not the stack's to pay here.
		buf := make([]byte, 32<<10)
		msgs := 0
		for {
			_, r, err := conn.Reader(cctx)
			for err == nil {
				_, err = r.Read(buf)
			}
			if err != io.EOF {
				read <- msgs
				return
			}
			msgs++
		}
	}()
	return func() {
		cancel()
		msgs := <-read
		conn.CloseNow()
		srv.Close()
		hs.Close()
		logf("dashboard stream: %d messages", msgs)
	}, nil
}
