package web

import (
	"encoding/base64"
	"strings"
	"testing"
)

// A TCP connection opened, used and closed through the API, seen on /tcp.
func TestTCPThroughAPI(t *testing.T) {
	l := newTestLab(t, nil)
	lb := l.socket(t, "b", "stream")
	l.must(t, 200, "POST", lb+"/bind", map[string]any{"address": addrB, "port": 80})
	if m := l.must(t, 200, "POST", lb+"/listen", map[string]any{"backlog": 2}); m["state"] == "" {
		t.Fatalf("listen: %v", m)
	}
	ca := l.socket(t, "a", "stream")
	l.must(t, 200, "POST", ca+"/connect", map[string]any{"address": addrB, "port": 80, "timeout_ms": 5000})
	acc := l.must(t, 200, "POST", lb+"/accept", map[string]any{"timeout_ms": 5000})
	if !strings.HasPrefix(acc["peer"].(string), addrA+":") || acc["remote"] != acc["peer"] {
		t.Fatalf("accept: %v", acc)
	}
	cb := "/api/v1/hosts/b/sockets/" + jsonInt(acc["id"])
	l.must(t, 200, "POST", ca+"/send", map[string]any{"text": "GET / HTTP/1.0\r\n\r\n"})
	got := ""
	for len(got) < 18 {
		m := l.must(t, 200, "POST", cb+"/recv", map[string]any{"max": 100, "timeout_ms": 5000})
		got += m["text"].(string)
	}
	if got != "GET / HTTP/1.0\r\n\r\n" {
		t.Fatalf("received %q", got)
	}
	conns := l.must(t, 200, "GET", "/api/v1/hosts/a/tcp", nil)["connections"].([]any)
	if len(conns) != 1 || conns[0].(map[string]any)["state"] != "ESTABLISHED" || conns[0].(map[string]any)["cwnd"].(float64) <= 0 {
		t.Fatalf("tcp of a: %v", conns)
	}
	if info := l.must(t, 200, "GET", ca, nil); info["tcp"] == nil {
		t.Fatalf("socket info without the TCP snapshot: %v", info)
	}
	// Half-close: b reads end of stream.
	l.must(t, 200, "POST", ca+"/shutdown", map[string]any{"how": "SHUT_WR"})
	m := l.must(t, 200, "POST", cb+"/recv", map[string]any{"timeout_ms": 5000})
	if m["eof"] != true || m["bytes"].(float64) != 0 {
		t.Fatalf("recv after the peer's FIN: %v", m)
	}
	l.must(t, 204, "DELETE", cb, nil)
	l.must(t, 204, "DELETE", ca, nil)
}

func TestSockoptsAndTimeout(t *testing.T) {
	l := newTestLab(t, nil)
	st := l.socket(t, "a", "stream")
	su := l.socket(t, "a", "dgram")
	ok := []struct {
		path  string
		level string
		name  string
		value any
		check func(opts map[string]any) bool
	}{
		{st, "SOL_SOCKET", "SO_LINGER", map[string]any{"on": true, "seconds": 0}, func(o map[string]any) bool {
			l := o["SO_LINGER"].(map[string]any)
			return l["on"] == true && l["seconds"].(float64) == 0
		}},
		{st, "", "SO_REUSEADDR", true, func(o map[string]any) bool { return o["SO_REUSEADDR"] == true }},
		{st, "IPPROTO_TCP", "TCP_NODELAY", 1, func(o map[string]any) bool { return o["TCP_NODELAY"] == true }},
		{st, "IPPROTO_TCP", "TCP_CONGESTION", "cubic", func(o map[string]any) bool { return o["TCP_CONGESTION"] == "cubic" }},
		{su, "IPPROTO_IP", "IP_TTL", 5, func(o map[string]any) bool { return o["IP_TTL"].(float64) == 5 }},
		{su, "IPPROTO_IP", "IP_ADD_MEMBERSHIP", map[string]any{"group": "239.1.2.3", "interface": "0.0.0.0"}, func(o map[string]any) bool {
			g, _ := o["memberships"].([]any)
			return len(g) == 1 && strings.HasPrefix(g[0].(string), "239.1.2.3@")
		}},
		// Record route (7), length 7, pointer 4, one empty slot; then End.
		{su, "IPPROTO_IP", "IP_OPTIONS", base64.StdEncoding.EncodeToString([]byte{7, 7, 4, 0, 0, 0, 0, 0}), func(o map[string]any) bool {
			return len(o["IP_OPTIONS"].([]any)) >= 1
		}},
		{su, "IPPROTO_IP", "IP_OPTIONS", []int{}, func(o map[string]any) bool { return o["IP_OPTIONS"] == nil }},
	}
	for _, c := range ok {
		m := l.must(t, 200, "POST", c.path+"/setsockopt", map[string]any{"level": c.level, "name": c.name, "value": c.value})
		if !c.check(m["options"].(map[string]any)) {
			t.Fatalf("%s = %v: options %v", c.name, c.value, m["options"])
		}
	}
	if m := l.must(t, 200, "POST", su+"/getsockopt", map[string]any{"name": "IP_TTL"}); m["value"].(float64) != 5 {
		t.Fatalf("getsockopt: %v", m)
	}
	bad := []struct {
		path  string
		body  map[string]any
		code  string
		words string
	}{
		{st, map[string]any{"name": "SO_LINGER", "value": 5}, "bad_request", "on"},
		{st, map[string]any{"name": "SO_LINGER", "value": map[string]any{"on": true, "secs": 1}}, "bad_request", "on"},
		{su, map[string]any{"name": "IP_ADD_MEMBERSHIP", "value": map[string]any{"group": "nope"}}, "bad_request", "group"},
		{su, map[string]any{"name": "IP_OPTIONS", "value": []int{300}}, "bad_request", "300"},
		{su, map[string]any{"name": "IP_TTL", "value": 1.5}, "bad_request", "whole number"},
		{su, map[string]any{"name": "IP_TTL", "value": 999}, "EINVAL", "range"},
		{st, map[string]any{"name": "TCP_CONGESTION", "value": "bbr"}, "EINVAL", "cubic"},
		{su, map[string]any{"name": "SO_BOGUS", "value": 1}, "ENOPROTOOPT", "SO_BOGUS"},
		{su, map[string]any{"level": "SOL_WHAT", "name": "X", "value": 1}, "bad_request", "SOL_WHAT"},
		{su, map[string]any{"name": "IP_TTL"}, "bad_request", "value is required"},
	}
	for _, c := range bad {
		r := l.do(t, "POST", c.path+"/setsockopt", c.body)
		if r.status != 400 || r.errCode(t) != c.code || !strings.Contains(r.json(t)["error"].(map[string]any)["message"].(string), c.words) {
			t.Fatalf("setsockopt %v: %d %s", c.body, r.status, r.body)
		}
	}
	// settimeout: a number, then null for blocking again.
	if m := l.must(t, 200, "POST", su+"/settimeout", map[string]any{"timeout_ms": 20}); m["timeout_ms"].(float64) != 20 {
		t.Fatalf("settimeout 20: %v", m)
	}
	// The socket's own timeout (on the stack's clock) ends a recv.
	if r := l.do(t, "POST", su+"/recv", map[string]any{}); r.status != 408 || r.errCode(t) != "ETIMEDOUT" {
		t.Fatalf("recv under the socket timeout: %d %s", r.status, r.body)
	}
	if m := l.must(t, 200, "POST", su+"/settimeout", map[string]any{"timeout_ms": nil}); m["timeout_ms"] != nil {
		t.Fatalf("settimeout null: %v", m)
	}
	if m := l.must(t, 200, "POST", su+"/settimeout", map[string]any{"timeout_ms": 0}); m["timeout_ms"].(float64) != 0 {
		t.Fatalf("settimeout 0: %v", m)
	}
	if r := l.do(t, "POST", su+"/recv", nil); r.status != 408 || r.errCode(t) != "EAGAIN" {
		t.Fatalf("recv on a non-blocking socket: %d %s", r.status, r.body)
	}
}
