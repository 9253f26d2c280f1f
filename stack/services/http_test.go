package services_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/services"
)

// naiveBytes builds the /bytes stream the slow, obvious way, from the
// contract's words.
func naiveBytes(seed string, n int) []byte {
	var out []byte
	for k := 0; len(out) < n; k++ {
		d := sha256.Sum256([]byte(seed + ":" + strconv.Itoa(k)))
		out = append(out, d[:]...)
	}
	return out[:n]
}

func TestBytesGenerator(t *testing.T) {
	for _, tc := range []struct {
		seed string
		n    int
	}{{"tipy", 0}, {"tipy", 1}, {"tipy", 32}, {"tipy", 33}, {"tipy", 1000}, {"x", 4097}, {"", 70}} {
		want := naiveBytes(tc.seed, tc.n)
		got, err := io.ReadAll(services.Bytes(tc.seed, int64(tc.n)))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Bytes(%q, %d): %x, %v", tc.seed, tc.n, got, err)
		}
		// Reads of any size give the same bytes.
		got, err = io.ReadAll(iotest.OneByteReader(services.Bytes(tc.seed, int64(tc.n))))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Bytes(%q, %d) read byte by byte: %v", tc.seed, tc.n, err)
		}
		if err := iotest.TestReader(services.Bytes(tc.seed, int64(tc.n)), want); err != nil {
			t.Fatalf("Bytes(%q, %d): %v", tc.seed, tc.n, err)
		}
		sum := sha256.Sum256(want)
		if got := services.BytesSHA256(tc.seed, int64(tc.n)); got != hex.EncodeToString(sum[:]) {
			t.Fatalf("BytesSHA256(%q, %d) = %s", tc.seed, tc.n, got)
		}
	}
	// The first block, spelled out.
	first := sha256.Sum256([]byte("tipy:0"))
	if b, _ := io.ReadAll(services.Bytes("tipy", 32)); !bytes.Equal(b, first[:]) {
		t.Fatal("the first 32 bytes are not SHA-256(\"tipy:0\")")
	}
	if b, _ := io.ReadAll(services.Bytes("tipy", -5)); len(b) != 0 {
		t.Fatalf("negative length gave %d bytes", len(b))
	}
}

func TestHTTPHandler(t *testing.T) {
	srv := httptest.NewServer(services.Handler("alice<&>", netip.MustParsePrefix("10.0.0.1/24")))
	defer srv.Close()
	get := func(method, path string, body io.Reader) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, body)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(b)
	}
	resp, page := get("GET", "/", nil)
	if resp.StatusCode != 200 || !strings.Contains(page, "Served by alice&lt;&amp;&gt; (10.0.0.1)") ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), page)
	}
	resp, body := get("GET", "/bytes/100?seed=abc", nil)
	if resp.StatusCode != 200 || body != string(naiveBytes("abc", 100)) || resp.ContentLength != 100 {
		t.Fatalf("GET /bytes/100?seed=abc: %d, %d bytes, length %d", resp.StatusCode, len(body), resp.ContentLength)
	}
	if _, body := get("GET", "/bytes/50", nil); body != string(naiveBytes("tipy", 50)) {
		t.Fatal("GET /bytes/50 without a seed does not use \"tipy\"")
	}
	if resp, body := get("GET", "/bytes/0", nil); resp.StatusCode != 200 || body != "" || resp.ContentLength != 0 {
		t.Fatalf("GET /bytes/0: %d %q", resp.StatusCode, body)
	}
	if resp, body := get("HEAD", "/bytes/67108864", nil); resp.StatusCode != 200 || body != "" || resp.ContentLength != 67108864 {
		t.Fatalf("HEAD /bytes/67108864: %d, length %d", resp.StatusCode, resp.ContentLength)
	}
	for _, bad := range []string{"/bytes/-1", "/bytes/abc", "/bytes/1e6", "/bytes/99999999999999999999"} {
		if resp, body := get("GET", bad, nil); resp.StatusCode != 400 || !strings.Contains(body, "whole number") {
			t.Fatalf("GET %s: %d %q", bad, resp.StatusCode, body)
		}
	}
	payload := randomBytes(100_000, 9)
	sum := sha256.Sum256(payload)
	if resp, body := get("POST", "/sha256", bytes.NewReader(payload)); resp.StatusCode != 200 || body != hex.EncodeToString(sum[:])+"\n" {
		t.Fatalf("POST /sha256: %d %q", resp.StatusCode, body)
	}
	empty := sha256.Sum256(nil)
	if _, body := get("POST", "/sha256", nil); body != hex.EncodeToString(empty[:])+"\n" {
		t.Fatalf("POST /sha256 of nothing: %q", body)
	}
	if resp, _ := get("GET", "/sha256", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET /sha256: %d", resp.StatusCode)
	}
	if resp, _ := get("GET", "/nothing/here", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /nothing/here: %d", resp.StatusCode)
	}
}

// httpClient fetches through the client stack's DialContext.
func (n *testNet) httpClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: n.client.DialContext}, Timeout: 60 * time.Second}
}

// TestHTTPOverTipy is the http service as services.Start runs it, fetched
// with net/http over the client stack.
func TestHTTPOverTipy(t *testing.T) {
	n := newTestNet(t, 7, nil)
	set := n.start(t, "http")
	n.background(t)
	hc := n.httpClient()
	defer hc.CloseIdleConnections()

	resp, err := hc.Get("http://10.0.0.1/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "Served by server (10.0.0.1)") || !strings.Contains(string(page), "10.0.0.2:") {
		t.Fatalf("GET /: %d\n%s", resp.StatusCode, page)
	}

	const size = 1_000_000
	resp, err = hc.Get("http://10.0.0.1/bytes/" + strconv.Itoa(size))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	got, err := io.Copy(h, resp.Body)
	resp.Body.Close()
	if err != nil || got != size || resp.ContentLength != size {
		t.Fatalf("GET /bytes: %d bytes (Content-Length %d), %v", got, resp.ContentLength, err)
	}
	if d := hex.EncodeToString(h.Sum(nil)); d != services.BytesSHA256("tipy", size) {
		t.Fatalf("GET /bytes digest %s, want %s", d, services.BytesSHA256("tipy", size))
	}

	payload := randomBytes(1<<20, 8)
	sum := sha256.Sum256(payload)
	resp, err = hc.Post("http://10.0.0.1/sha256", "application/octet-stream", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(answer) != hex.EncodeToString(sum[:])+"\n" {
		t.Fatalf("POST /sha256 answered %q", answer)
	}

	// Stop closes the listening socket at once and the server soon after.
	n.loop.Call(func() { set.Stop(n.loop.Now()) })
	select {
	case <-set.HTTP().Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the http server did not stop")
	}
	hc.CloseIdleConnections()
	if _, err := hc.Get("http://10.0.0.1/"); !errors.Is(err, stack.ECONNREFUSED) {
		t.Fatalf("GET after Stop: %v", err)
	}
}

// TestStartHTTPFromOutsideTheLoop is StartHTTP and Close, from a goroutine.
func TestStartHTTPFromOutsideTheLoop(t *testing.T) {
	n := newTestNet(t, 8, nil)
	n.background(t)
	srv, err := services.StartHTTP(n.server, 8080)
	if err != nil {
		t.Fatal(err)
	}
	if srv.Addr().String() != "0.0.0.0:8080" {
		t.Fatalf("address %v", srv.Addr())
	}
	if _, err := services.StartHTTP(n.server, 8080); !errors.Is(err, stack.EADDRINUSE) {
		t.Fatalf("second server on the port: %v", err)
	}
	hc := n.httpClient()
	resp, err := hc.Get("http://10.0.0.1:8080/bytes/5000?seed=outside")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(b, naiveBytes("outside", 5000)) {
		t.Fatalf("got %d bytes", len(b))
	}
	// Close with a kept-alive connection open: it is closed too.
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := n.client.DialTCP(ctx, netip.MustParseAddrPort("10.0.0.1:8080")); !errors.Is(err, stack.ECONNREFUSED) {
		t.Fatalf("dial after Close: %v", err)
	}
	var left int
	n.loop.Call(func() { left = len(n.server.Sockets()) })
	if left != 0 {
		t.Fatalf("%d server sockets left after Close", left)
	}
}

func BenchmarkBytes(b *testing.B) {
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(buf)))
	r := services.Bytes("tipy", 1<<62)
	b.ReportAllocs()
	for b.Loop() {
		io.ReadFull(r, buf)
	}
}

// BenchmarkHTTPBytesOverTipy downloads /bytes/N over two tipy stacks on a
// virtual switch, the loop running as fast as it can.
func BenchmarkHTTPBytesOverTipy(b *testing.B) {
	const size = 4 << 20
	n := newTestNet(b, 9, nil)
	n.start(b, "http")
	n.background(b)
	hc := n.httpClient()
	defer hc.CloseIdleConnections()
	url := fmt.Sprintf("http://10.0.0.1/bytes/%d", size)
	b.SetBytes(size)
	for b.Loop() {
		resp, err := hc.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		got, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || got != size {
			b.Fatalf("%d bytes, %v", got, err)
		}
	}
}
