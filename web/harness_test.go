package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
)

// testLab is two hosts, a (192.168.2.7) and b (192.168.2.20), on a virtual
// switch, on a virtual clock running in the background as fast as it can,
// served by a Server behind httptest.
type testLab struct {
	loop  *clock.Virtual
	bus   *observe.Bus
	a, b  *stack.Stack
	ports []*tap.Port
	srv   *Server
	ts    *httptest.Server
}

const (
	addrA = "192.168.2.7"
	addrB = "192.168.2.20"
)

func newTestLab(t *testing.T, mod func(*Config)) *testLab {
	t.Helper()
	return newTestLabBus(t, observe.BusOptions{}, mod)
}

func newTestLabBus(t *testing.T, bo observe.BusOptions, mod func(*Config)) *testLab {
	t.Helper()
	l := &testLab{loop: clock.NewVirtual(), bus: observe.NewBus(bo)}
	sw := tap.NewSwitch(l.loop, "lan", l.bus, 7)
	mk := func(name, addr string, last byte) *stack.Stack {
		mac := wire.MAC{0x02, 0, 0, 0, 0, last}
		port := sw.AddPort(name, mac, 1500)
		l.ports = append(l.ports, port)
		s, err := stack.New(stack.Config{Name: name, MAC: mac, Addr: netip.MustParsePrefix(addr + "/24"), Seed: 7,
			ARP: stack.ARPConfig{NoProbe: true}}, port, l.loop, l.bus)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	l.a = mk("a", addrA, 7)
	l.b = mk("b", addrB, 20)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	l.loop.SetSpeed(1) // real time: at speed 0 a Call from a handler can see time jump (see the report)
	go func() { l.loop.Run(ctx); close(done) }()
	cfg := Config{Hosts: []*stack.Stack{l.a, l.b}, Bus: l.bus, Lab: NewVirtualLab(l.loop, 7, l.ports...), Seed: 7,
		RecordDir: t.TempDir(), MaxWait: 20e9}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l.srv = srv
	l.ts = httptest.NewServer(srv)
	t.Cleanup(func() {
		l.ts.Close()
		srv.Close()
		cancel()
		<-done
	})
	return l
}

// reply is a decoded API answer.
type reply struct {
	status int
	body   []byte
	header http.Header
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("answer %d is not a JSON object: %v: %s", r.status, err, r.body)
	}
	return m
}

// errCode returns the error code of an error answer.
func (r reply) errCode(t *testing.T) string {
	t.Helper()
	e, ok := r.json(t)["error"].(map[string]any)
	if !ok {
		t.Fatalf("answer %d has no error object: %s", r.status, r.body)
	}
	if msg, _ := e["message"].(string); msg == "" {
		t.Fatalf("error without a message: %s", r.body)
	}
	return e["code"].(string)
}

// do sends a request; body is JSON-encoded unless it is a string or []byte.
func (l *testLab) do(t *testing.T, method, path string, body any, hdr ...string) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, l.ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := l.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, body: b, header: resp.Header}
}

// must sends a request and fails the test unless the status is want.
func (l *testLab) must(t *testing.T, want int, method, path string, body any) map[string]any {
	t.Helper()
	r := l.do(t, method, path, body)
	if r.status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	if len(r.body) == 0 {
		return nil
	}
	return r.json(t)
}

// socket creates a socket of typ on host and returns its path.
func (l *testLab) socket(t *testing.T, host, typ string) string {
	t.Helper()
	m := l.must(t, 201, "POST", "/api/v1/hosts/"+host+"/sockets", map[string]any{"type": typ})
	return "/api/v1/hosts/" + host + "/sockets/" + jsonInt(m["id"])
}

func jsonInt(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
