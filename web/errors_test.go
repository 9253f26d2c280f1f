package web

import (
	"strings"
	"testing"
)

// Every way a request can be wrong gets the status and code of the
// contracts and a message naming the problem.
func TestRequestErrors(t *testing.T) {
	l := newTestLab(t, func(c *Config) { c.MaxBody = 4096 })
	sa := l.socket(t, "a", "dgram")
	cases := []struct {
		name, method, path string
		body               any
		status             int
		code, msg          string
	}{
		{"malformed JSON", "POST", "/api/v1/hosts/a/sockets", `{"type":`, 400, "bad_request", "malformed JSON"},
		{"syntax error", "POST", "/api/v1/hosts/a/sockets", `{"type" "dgram"}`, 400, "bad_request", "malformed JSON at byte"},
		{"empty body", "POST", "/api/v1/hosts/a/sockets", ``, 400, "bad_request", "empty"},
		{"two values", "POST", "/api/v1/hosts/a/sockets", `{"type":"dgram"} {}`, 400, "bad_request", "more than one"},
		{"unknown field", "POST", "/api/v1/hosts/a/sockets", `{"type":"dgram","colour":1}`, 400, "bad_request", `unknown field "colour"`},
		{"wrong type", "POST", "/api/v1/hosts/a/sockets", `{"type":"dgram","protocol":"udp"}`, 400, "bad_request", "wrong type for protocol"},
		{"wrong type nested", "POST", sa + "/bind", `{"port":"80"}`, 400, "bad_request", "wrong type for port"},
		{"oversized body", "POST", sa + "/sendto", `{"text":"` + strings.Repeat("x", 5000) + `","address":"192.168.2.20","port":9}`, 400, "bad_request", "larger than the limit of 4096 bytes"},
		{"bad socket type", "POST", "/api/v1/hosts/a/sockets", `{"type":"seqpacket"}`, 400, "bad_request", "not stream, dgram or raw"},
		{"unknown host", "POST", "/api/v1/hosts/zz/sockets", `{"type":"dgram"}`, 404, "not_found", `no host named "zz"`},
		{"unknown socket", "GET", "/api/v1/hosts/a/sockets/999", nil, 404, "not_found", "no open socket 999"},
		{"socket id not a number", "GET", "/api/v1/hosts/a/sockets/x", nil, 400, "bad_request", "not a number"},
		{"bad address", "POST", sa + "/sendto", `{"text":"x","address":"nowhere","port":9}`, 400, "bad_request", "not an IPv4 address"},
		{"bad port", "POST", sa + "/bind", `{"port":70000}`, 400, "bad_request", "out of range"},
		{"text and data", "POST", sa + "/sendto", `{"text":"x","data":"eA==","address":"192.168.2.20","port":9}`, 400, "bad_request", "not both"},
		{"bad base64", "POST", sa + "/sendto", `{"data":"***","address":"192.168.2.20","port":9}`, 400, "bad_request", "base64"},
		{"send unconnected", "POST", sa + "/send", `{"text":"x"}`, 409, "EDESTADDRREQ", ""},
		{"recv timeout", "POST", sa + "/recv", `{"timeout_ms":50}`, 408, "ETIMEDOUT", "timeout_ms=50"},
		{"recv poll", "POST", sa + "/recv", `{"timeout_ms":0}`, 408, "EAGAIN", "timeout_ms is 0"},
		{"bad max", "POST", sa + "/recv", `{"max":0}`, 400, "bad_request", "out of range"},
		{"bad how", "POST", sa + "/shutdown", `{"how":"SHUT_UP"}`, 400, "bad_request", "SHUT_UP"},
		{"negative timeout", "POST", sa + "/settimeout", `{"timeout_ms":-5}`, 400, "bad_request", "negative"},
		{"method not allowed", "PUT", "/api/v1/hosts", nil, 405, "method_not_allowed", "PUT"},
		{"bad filter", "POST", "/api/v1/recordings", `{"layers":"quantum"}`, 400, "bad_request", "unknown layer"},
		{"unknown recording", "GET", "/api/v1/recordings/42/trace", nil, 404, "not_found", "42"},
		{"unknown replay", "GET", "/api/v1/replays/42", nil, 404, "not_found", "42"},
		{"unknown frame", "GET", "/api/v1/frames/999999", nil, 404, "not_found", "999999"},
		{"bad frame seq", "GET", "/api/v1/frames/abc", nil, 400, "bad_request", "abc"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := l.do(t, c.method, c.path, c.body)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			if code := r.errCode(t); code != c.code {
				t.Fatalf("code %q, want %q: %s", code, c.code, r.body)
			}
			if msg := r.json(t)["error"].(map[string]any)["message"].(string); !strings.Contains(msg, c.msg) {
				t.Fatalf("message does not say %q: %s", c.msg, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
		})
	}
}

// Socket calls in the wrong state are 409 with the errno; a refused
// connection carries ECONNREFUSED.
func TestSocketStateErrors(t *testing.T) {
	l := newTestLab(t, nil)
	su := l.socket(t, "a", "dgram")
	l.must(t, 200, "POST", su+"/bind", map[string]any{"port": 4000})
	if r := l.do(t, "POST", su+"/bind", map[string]any{"port": 4001}); r.status != 409 || r.errCode(t) != "EINVAL" {
		t.Fatalf("bind twice: %d %s", r.status, r.body)
	}
	su2 := l.socket(t, "a", "dgram")
	if r := l.do(t, "POST", su2+"/bind", map[string]any{"port": 4000}); r.status != 409 || r.errCode(t) != "EADDRINUSE" {
		t.Fatalf("port in use: %d %s", r.status, r.body)
	}
	// TCP: nobody listens on b:81.
	st := l.socket(t, "a", "stream")
	r := l.do(t, "POST", st+"/connect", map[string]any{"address": addrB, "port": 81, "timeout_ms": 5000})
	if r.status != 502 || r.errCode(t) != "ECONNREFUSED" || !strings.Contains(string(r.body), "refused") {
		t.Fatalf("connect to a closed port: %d %s", r.status, r.body)
	}
	// A listener on b; connect, then the wrong calls.
	lb := l.socket(t, "b", "stream")
	l.must(t, 200, "POST", lb+"/bind", map[string]any{"port": 80})
	l.must(t, 200, "POST", lb+"/listen", map[string]any{"backlog": 4})
	if r := l.do(t, "POST", lb+"/accept", map[string]any{"timeout_ms": 30}); r.status != 408 || r.errCode(t) != "ETIMEDOUT" {
		t.Fatalf("accept with nobody: %d %s", r.status, r.body)
	}
	ca := l.socket(t, "a", "stream")
	l.must(t, 200, "POST", ca+"/connect", map[string]any{"address": addrB, "port": 80, "timeout_ms": 5000})
	if r := l.do(t, "POST", ca+"/connect", map[string]any{"address": addrB, "port": 80}); r.status != 409 || r.errCode(t) != "EISCONN" {
		t.Fatalf("connect twice: %d %s", r.status, r.body)
	}
	if r := l.do(t, "POST", ca+"/listen", map[string]any{}); r.status != 409 {
		t.Fatalf("listen on a connected socket: %d %s", r.status, r.body)
	}
	if r := l.do(t, "POST", lb+"/send", map[string]any{"text": "x"}); r.status != 409 || r.errCode(t) != "ENOTCONN" {
		t.Fatalf("send on a listener: %d %s", r.status, r.body)
	}
}
