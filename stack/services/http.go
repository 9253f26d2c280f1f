package services

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/tipy/tipy/stack"
)

// The http service of ../shared/contracts.md: Go's net/http serving over
// tipy's net.Listener. Unlike the other services it needs goroutines (one
// accepting, one per connection), which reach the stack through the
// blocking socket calls; its traffic therefore interleaves with the loop's
// other work in an order that depends on the Go scheduler.
//
//	GET  /               a small HTML page naming the host that served it
//	GET  /bytes/N?seed=S N bytes of the generator of Bytes (S default "tipy")
//	POST /sha256         the lowercase hex SHA-256 of the body, then "\n"

// DefaultSeed is the seed of /bytes/N when the request names none.
const DefaultSeed = "tipy"

// Bytes returns a reader of the n bytes /bytes/n?seed=seed serves: the
// concatenation of SHA-256(seed + ":" + k) for k = 0, 1, 2, ... (k in
// decimal ASCII), truncated to n. It makes 32 bytes at a time, so n may be
// as large as wanted without using memory.
func Bytes(seed string, n int64) io.Reader {
	r := &bytesReader{left: max(n, 0), off: sha256.Size}
	r.prefix = append([]byte(seed), ':')
	return r
}

// BytesSHA256 returns the lowercase hex SHA-256 of Bytes(seed, n): what a
// client of /bytes/n?seed=seed should compute over what it received.
func BytesSHA256(seed string, n int64) string {
	h := sha256.New()
	io.Copy(h, Bytes(seed, n))
	return hex.EncodeToString(h.Sum(nil))
}

// bytesReader generates the /bytes stream block by block.
type bytesReader struct {
	prefix []byte // seed + ":"
	buf    []byte // prefix + k, reused
	k      uint64
	block  [sha256.Size]byte
	off    int // bytes of block already read
	left   int64
}

func (r *bytesReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n := 0
	for n < len(p) {
		if r.off == len(r.block) {
			r.buf = strconv.AppendUint(append(r.buf[:0], r.prefix...), r.k, 10)
			r.block = sha256.Sum256(r.buf)
			r.k++
			r.off = 0
		}
		c := copy(p[n:], r.block[r.off:])
		r.off += c
		n += c
	}
	r.left -= int64(n)
	return n, nil
}

// Handler returns the http service's handler for a host named host at
// address addr (shown on the page; may be the zero prefix).
func Handler(host string, addr netip.Prefix) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		where := ""
		if addr.IsValid() {
			where = " (" + html.EscapeString(addr.Addr().String()) + ")"
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, homePage, html.EscapeString(host), html.EscapeString(host), where, html.EscapeString(r.RemoteAddr))
	})
	mux.HandleFunc("GET /bytes/{n}", serveBytes)
	mux.HandleFunc("POST /sha256", serveSHA256)
	return mux
}

const homePage = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>tipy host %s</title></head>
<body>
<h1>Served by %s%s</h1>
<p>This page came from Go's net/http running over tipy, a TCP/IP stack written
in Go, to you at %s.</p>
<ul>
<li><code>GET /bytes/N?seed=S</code>: N bytes, the concatenation of
SHA-256(S + ":" + k) for k = 0, 1, 2, ... (S defaults to "tipy")</li>
<li><code>POST /sha256</code>: the SHA-256 of the request body, in hex</li>
</ul>
</body>
</html>
`

// serveBytes is GET /bytes/{n}: the generator's bytes, streamed.
func serveBytes(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.ParseInt(r.PathValue("n"), 10, 64)
	if err != nil || n < 0 {
		http.Error(w, fmt.Sprintf("/bytes/N wants N a whole number of bytes from 0 to %d, not %q", int64(1<<63-1), r.PathValue("n")), http.StatusBadRequest)
		return
	}
	seed := r.URL.Query().Get("seed")
	if seed == "" {
		seed = DefaultSeed
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	io.Copy(w, Bytes(seed, n)) // a client that goes away ends the copy
}

// serveSHA256 is POST /sha256: the digest of the body, read as it comes.
func serveSHA256(w http.ResponseWriter, r *http.Request) {
	h := sha256.New()
	if _, err := io.Copy(h, r.Body); err != nil {
		http.Error(w, "reading the request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "%x\n", h.Sum(nil))
}

// HTTPServer is the http service running on a tipy host.
type HTTPServer struct {
	srv  *http.Server
	ln   *stack.Listener
	done chan struct{}
	err  error // what Serve returned, once done is closed

	closeOnce sync.Once
}

// StartHTTP serves the http service on port of every interface of s. It
// uses the blocking socket calls: call it from a goroutine, never from loop
// work (services.Start does the same from loop work).
func StartHTTP(s *stack.Stack, port int) (*HTTPServer, error) {
	ln, err := s.Listen(netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(port)), 0)
	if err != nil {
		return nil, fmt.Errorf("http/tcp port %d: %w", port, err)
	}
	return serveHTTP(s, ln.(*stack.Listener)), nil
}

// serveHTTP starts net/http on a listener; it does not touch the stack
// itself, so loop work may call it.
func serveHTTP(s *stack.Stack, ln *stack.Listener) *HTTPServer {
	cfg := s.Config()
	h := &HTTPServer{
		srv: &http.Server{
			Handler:           Handler(cfg.Name, cfg.Addr),
			ReadHeaderTimeout: 30 * time.Second,
			IdleTimeout:       2 * time.Minute,
		},
		ln:   ln,
		done: make(chan struct{}),
	}
	go func() {
		defer close(h.done)
		h.err = h.srv.Serve(ln)
	}()
	return h
}

// Addr returns the address the server listens on.
func (h *HTTPServer) Addr() net.Addr { return h.ln.Addr() }

// Close stops the server: no more connections are accepted, the open ones
// are closed, and Close returns when the server's goroutine has. Call it
// from a goroutine, not from loop work.
func (h *HTTPServer) Close() error {
	h.closeOnce.Do(func() { h.srv.Close() })
	<-h.done
	if errors.Is(h.err, http.ErrServerClosed) || errors.Is(h.err, net.ErrClosed) {
		return nil
	}
	return h.err
}

// Done is closed when the server has stopped serving.
func (h *HTTPServer) Done() <-chan struct{} { return h.done }

// stopFromLoop stops the server from loop work: the caller has closed the
// listening socket with CloseNow already; the open connections are closed
// from a goroutine of their own, since closing a socket from outside the
// loop waits for the loop.
func (h *HTTPServer) stopFromLoop() {
	go h.closeOnce.Do(func() { h.srv.Close() })
}
