// Httpdemo runs Go's net/http over tipy: an HTTP server on a tipy
// net.Listener and an HTTP client whose transport dials through tipy.
//
// By default it runs in an in-process virtual network of two tipy hosts:
// peer (10.0.0.2) serves HTTP on port 80, and tipy (10.0.0.1) sends it two
// requests over one kept-alive connection and prints the answers.
//
//	go run ./examples/httpdemo
//
// On a TAP device tipy plays one side and a real machine the other: with
// -peer, tipy fetches -path from the web server at that address; without
// it, tipy serves HTTP until Ctrl-C (try `curl http://192.168.2.7/`).
//
//	sudo go run ./examples/httpdemo -tap tap0 -ip 192.168.2.7/24 -peer 192.168.2.20 -path /
//	sudo go run ./examples/httpdemo -tap tap0 -ip 192.168.2.7/24
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"strings"

	"github.com/tipy/tipy/examples/internal/demo"
	"github.com/tipy/tipy/stack/host"
)

func main() { demo.Main(run) }

func run(args []string, stdout io.Writer) error {
	port := 80
	path := "/"
	ctx := context.Background()
	env, err := demo.Open(ctx, "httpdemo", args, stdout, demo.Options{Flags: func(fs *flag.FlagSet) {
		fs.IntVar(&port, "port", port, "the HTTP server's port")
		fs.StringVar(&path, "path", path, "with -peer: the path to fetch")
	}})
	if err != nil {
		return err
	}
	defer env.Close()

	if env.Serves() {
		// tipy is the server, for browsers and curl on the real network.
		ctx, stop := demo.Interrupted(ctx)
		defer stop()
		srv, err := startServer(env.Tipy, port, func(r *http.Request) {
			fmt.Fprintf(stdout, "tipy: %s %s from %s\n", r.Method, r.URL, r.RemoteAddr)
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "tipy: HTTP server on %s:%d, Ctrl-C stops it\n", env.Tipy.Addr(), port)
		<-ctx.Done()
		return srv.Close()
	}

	base := fmt.Sprintf("http://%s:%d", env.PeerAddr, port)
	client := newClient(env.Tipy)
	defer client.CloseIdleConnections()
	if !env.Virtual() {
		return get(client, base+path, stdout, 512)
	}
	srv, err := startServer(env.Peer, port, func(*http.Request) {})
	if err != nil {
		return err
	}
	defer srv.Close()
	if err := get(client, base+"/", stdout, 512); err != nil {
		return err
	}
	return post(client, base+"/upper", "text/plain", "tipy speaks HTTP", stdout)
}

// startServer serves HTTP on h's port with a small handler, calling logf
// for each request.
func startServer(h *host.Host, port int, logf func(*http.Request)) (*http.Server, error) {
	ln, err := h.ListenTCP(fmt.Sprintf(":%d", port))
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		logf(r)
		fmt.Fprintf(w, "hello from %s, served by Go's net/http on tipy\n", h.Name())
	})
	mux.HandleFunc("POST /upper", func(w http.ResponseWriter, r *http.Request) {
		logf(r)
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte(strings.ToUpper(string(b))))
	})
	srv := &http.Server{Handler: mux}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "http server:", err)
		}
	}()
	return srv, nil
}

// newClient returns an HTTP client whose connections are tipy's: its
// transport dials with the host's DialContext, which has the signature
// http.Transport wants.
func newClient(h *host.Host) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: h.DialContext}}
}

// traced adds to the request's context a trace that prints which
// connection the request goes out on.
func traced(req *http.Request, out io.Writer) *http.Request {
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		how := "new connection"
		if info.Reused {
			how = "reused connection"
		}
		fmt.Fprintf(out, "tipy: %s %s on a %s from %s\n", req.Method, req.URL, how, info.Conn.LocalAddr())
	}}
	return req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
}

func get(c *http.Client, url string, out io.Writer, limit int64) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	return do(c, traced(req, out), out, limit)
}

func post(c *http.Client, url, contentType, body string, out io.Writer) error {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	fmt.Fprintf(out, "tipy: sending %q\n", body)
	return do(c, traced(req, out), out, max(int64(len(body)), 512))
}

// do sends req and prints the status, the content type and at most limit
// bytes of the body.
func do(c *http.Client, req *http.Request, out io.Writer, limit int64) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body) // the rest, so the connection can be kept alive
	fmt.Fprintf(out, "tipy: %s %s, %s\n", resp.Proto, resp.Status, resp.Header.Get("Content-Type"))
	fmt.Fprintf(out, "tipy: body %q\n", body)
	return nil
}
