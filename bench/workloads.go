package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"time"
)

// pair is two stacks in one process: a server that listens and a client
// that dials it, both through the Go net interfaces (tipy's and gVisor's
// adapters), so that every system runs the same application code.
type pair interface {
	Listen(port uint16) (net.Listener, error)
	Dial(ctx context.Context, port uint16) (net.Conn, error)
	Close()
}

// chunk is the size of every application write and read of a bulk run.
const chunk = 64 << 10

// msgLen is the size of a request, a response and a ping payload.
const msgLen = 64

// connect opens a connection with dial and accepts it on ln, returning the
// dialing and the accepting end.
func connect(ctx context.Context, ln net.Listener, dial func(context.Context) (net.Conn, error)) (client, server net.Conn, err error) {
	type res struct {
		c   net.Conn
		err error
	}
	acc := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		acc <- res{c, err}
	}()
	client, err = dial(ctx)
	if err != nil {
		ln.Close()
		<-acc
		return nil, nil, fmt.Errorf("dial: %w", err)
	}
	select {
	case r := <-acc:
		if r.err != nil {
			client.Close()
			return nil, nil, fmt.Errorf("accept: %w", r.err)
		}
		return client, r.c, nil
	case <-ctx.Done():
		client.Close()
		ln.Close()
		return nil, nil, ctx.Err()
	}
}

// watchdog closes the connections when ctx ends, so that a stuck
// measurement fails instead of hanging; stop releases it.
func watchdog(ctx context.Context, conns ...io.Closer) (stop func()) {
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			for _, c := range conns {
				c.Close()
			}
		case <-done:
		}
	}()
	return func() { close(done) }
}

// bulkOver writes size bytes into w in chunk-sized writes while reading
// them from r, and returns the rate in MB/s (10^6 bytes per second) from
// the first write to the last byte read.
func bulkOver(ctx context.Context, w, r net.Conn, size int64) (float64, error) {
	stop := watchdog(ctx, w, r)
	defer stop()
	read := make(chan error, 1)
	start := time.Now()
	go func() {
		buf := make([]byte, chunk)
		var got int64
		for got < size {
			n, err := r.Read(buf)
			got += int64(n)
			if err != nil {
				read <- fmt.Errorf("read after %d bytes: %w", got, err)
				return
			}
		}
		read <- nil
	}()
	buf := make([]byte, chunk)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	var werr error
	for sent := int64(0); sent < size; {
		n := int(min(int64(len(buf)), size-sent))
		k, err := w.Write(buf[:n])
		sent += int64(k)
		if err != nil {
			werr = fmt.Errorf("write after %d bytes: %w", sent, err)
			break
		}
	}
	if werr != nil {
		r.Close()
		<-read
		return 0, werr
	}
	if err := <-read; err != nil {
		return 0, err
	}
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	return float64(size) / time.Since(start).Seconds() / 1e6, nil
}

// echoStream copies what c receives back to it until c fails or closes.
func echoStream(c net.Conn) {
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// roundTrips sends n msgLen-byte requests on c, each after the whole
// response to the last came back, and returns the mean round trip in µs.
// A few unmeasured round trips go first (ARP, slow start, code paths).
func roundTrips(ctx context.Context, c net.Conn, n int) (float64, error) {
	stop := watchdog(ctx, c)
	defer stop()
	req := make([]byte, msgLen)
	resp := make([]byte, msgLen)
	one := func() error {
		if _, err := c.Write(req); err != nil {
			return err
		}
		_, err := io.ReadFull(c, resp)
		return err
	}
	for range 100 {
		if err := one(); err != nil {
			return 0, fmt.Errorf("warm-up round trip: %w", err)
		}
	}
	start := time.Now()
	for i := range n {
		req[0] = byte(i)
		if err := one(); err != nil {
			return 0, fmt.Errorf("round trip %d: %w", i, err)
		}
		if resp[0] != byte(i) {
			return 0, fmt.Errorf("round trip %d: the response is not the request", i)
		}
	}
	return float64(time.Since(start).Microseconds()) / float64(n), nil
}

// echoPackets answers every datagram pc receives with the same bytes,
// until pc is closed.
func echoPackets(pc net.PacketConn) {
	buf := make([]byte, 2048)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if _, err := pc.WriteTo(buf[:n], from); err != nil && errors.Is(err, net.ErrClosed) {
			return
		}
	}
}

// datagramTrips sends n msgLen-byte datagrams on the connected UDP socket
// c, each after the echo of the last came back, and returns the mean
// round trip in µs. A datagram whose echo does not come within a second
// is sent again (counted once, timed from its first sending).
func datagramTrips(ctx context.Context, c net.Conn, n int) (float64, error) {
	stop := watchdog(ctx, c)
	defer stop()
	req := make([]byte, msgLen)
	resp := make([]byte, 2048)
	one := func(i int) error {
		req[0], req[1] = byte(i), byte(i>>8)
		for try := 0; ; try++ {
			if try == 5 {
				return fmt.Errorf("no echo of datagram %d after 5 tries", i)
			}
			if _, err := c.Write(req); err != nil {
				return err
			}
			c.SetReadDeadline(time.Now().Add(time.Second))
			for {
				k, err := c.Read(resp)
				if err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						break // send again
					}
					return err
				}
				if k == msgLen && resp[0] == req[0] && resp[1] == req[1] {
					return nil
				}
			}
		}
	}
	for i := range 100 {
		if err := one(i); err != nil {
			return 0, fmt.Errorf("warm-up: %w", err)
		}
	}
	start := time.Now()
	for i := range n {
		if err := one(i); err != nil {
			return 0, err
		}
	}
	return float64(time.Since(start).Microseconds()) / float64(n), nil
}

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// idleConnMemory opens n connections between the client and the server
// of p, keeps them idle and established, and returns the growth of the
// live heap per connection end in bytes: (heap after − heap before) / 2n,
// since both ends live in this process.
func idleConnMemory(ctx context.Context, p pair, port uint16, n int) (float64, error) {
	ln, err := p.Listen(port)
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	servers := make([]net.Conn, 0, n)
	accDone := make(chan error, 1)
	before := heapInUse()
	go func() {
		for len(servers) < n {
			c, err := ln.Accept()
			if err != nil {
				accDone <- err
				return
			}
			servers = append(servers, c)
		}
		accDone <- nil
	}()
	clients := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for i := range n {
		c, err := p.Dial(ctx, port)
		if err != nil {
			return 0, fmt.Errorf("connection %d: %w", i+1, err)
		}
		clients = append(clients, c)
	}
	select {
	case err := <-accDone:
		if err != nil {
			return 0, fmt.Errorf("accept: %w", err)
		}
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() {
		for _, c := range servers {
			c.Close()
		}
	}()
	time.Sleep(100 * time.Millisecond) // let the last ACKs land
	after := heapInUse()
	runtime.KeepAlive(servers)
	runtime.KeepAlive(clients)
	return (float64(after) - float64(before)) / float64(2*n), nil
}
