package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
)

func TestLabControls(t *testing.T) {
	l := newTestLab(t, nil)
	m := l.must(t, 200, "GET", "/api/v1/lab", nil)
	if m["paused"] != false || m["seed"].(float64) != 7 || len(m["links"].([]any)) != 2 || m["speed"].(float64) != 1 {
		t.Fatalf("lab: %v", m)
	}
	if r := l.do(t, "POST", "/api/v1/lab/step", nil); r.status != 409 {
		t.Fatalf("step while running: %d %s", r.status, r.body)
	}
	if m := l.must(t, 200, "POST", "/api/v1/lab/pause", nil); m["paused"] != true {
		t.Fatalf("pause: %v", m)
	}
	// A ping scheduled while paused advances one event per step.
	l.must(t, 200, "POST", "/api/v1/lab/step", nil)
	if m := l.must(t, 200, "POST", "/api/v1/lab/resume", nil); m["paused"] != false {
		t.Fatalf("resume: %v", m)
	}
	if m := l.must(t, 200, "POST", "/api/v1/lab/speed", map[string]any{"factor": 2.5}); m["speed"].(float64) != 2.5 {
		t.Fatalf("speed: %v", m)
	}
	if r := l.do(t, "POST", "/api/v1/lab/speed", map[string]any{"factor": -1}); r.status != 400 {
		t.Fatalf("negative speed: %d %s", r.status, r.body)
	}
	if r := l.do(t, "POST", "/api/v1/lab/speed", map[string]any{}); r.status != 400 {
		t.Fatalf("speed without factor: %d %s", r.status, r.body)
	}
	l.must(t, 200, "POST", "/api/v1/lab/speed", map[string]any{"factor": 1})
	m = l.must(t, 200, "PUT", "/api/v1/lab/links/a/impairment", map[string]any{"spec": "loss=1%,delay=10ms"})
	if m["name"] != "lan/a" || m["in"] != m["out"] || !strings.Contains(m["in"].(string), "loss=1%") {
		t.Fatalf("impair by spec: %v", m)
	}
	m = l.must(t, 200, "PUT", "/api/v1/lab/links/lan%2Fb/impairment", map[string]any{"direction": "in", "delay_ms": 5, "dup": 0.5})
	if !strings.Contains(m["in"].(string), "delay=5ms") || m["out"] != "none" {
		t.Fatalf("impair by fields: %v", m)
	}
	for _, c := range []struct {
		path string
		body any
		want int
	}{
		{"/api/v1/lab/links/zz/impairment", map[string]any{"spec": "none"}, 404},
		{"/api/v1/lab/links/a/impairment", map[string]any{"spec": "loss=lots"}, 400},
		{"/api/v1/lab/links/a/impairment", map[string]any{"loss": 2.0}, 400},
		{"/api/v1/lab/links/a/impairment", map[string]any{"spec": "none", "loss": 0.1}, 400},
		{"/api/v1/lab/links/a/impairment", map[string]any{"direction": "sideways"}, 400},
	} {
		if r := l.do(t, "PUT", c.path, c.body); r.status != c.want {
			t.Fatalf("PUT %s %v: %d %s", c.path, c.body, r.status, r.body)
		}
	}
	links := l.must(t, 200, "GET", "/api/v1/lab", nil)["links"].([]any)
	if links[0].(map[string]any)["in"] == "none" {
		t.Fatalf("impairment not kept: %v", links)
	}

	// Without lab controls (TAP mode) every lab route is a clear 404.
	tapl := newTestLab(t, func(c *Config) { c.Lab = nil; c.Mode = ModeTAP })
	for _, p := range []string{"/api/v1/lab", "/api/v1/lab/pause"} {
		method := "GET"
		if strings.HasSuffix(p, "pause") {
			method = "POST"
		}
		r := tapl.do(t, method, p, nil)
		if r.status != 404 || !strings.Contains(string(r.body), "tap mode") {
			t.Fatalf("%s in TAP mode: %d %s", p, r.status, r.body)
		}
	}
}

func TestToken(t *testing.T) {
	if _, err := New(Config{Listen: "0.0.0.0:8080"}); !errors.Is(err, ErrTokenRequired) {
		t.Fatalf("non-loopback listen without a token: %v", err)
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:8080", "[::1]:80"} {
		if _, err := New(Config{Listen: addr}); err != nil {
			t.Fatalf("loopback %s: %v", addr, err)
		}
	}
	l := newTestLab(t, func(c *Config) { c.Listen = "0.0.0.0:8080"; c.Token = "s3cret" })
	if r := l.do(t, "GET", "/api/v1/hosts", nil); r.status != 401 || r.errCode(t) != "unauthorized" || r.header.Get("WWW-Authenticate") == "" {
		t.Fatalf("no token: %d %s", r.status, r.body)
	}
	if r := l.do(t, "GET", "/api/v1/hosts", nil, "Authorization", "Bearer wrong"); r.status != 401 {
		t.Fatalf("wrong token: %d %s", r.status, r.body)
	}
	if r := l.do(t, "GET", "/api/v1/hosts", nil, "Authorization", "Basic czNjcmV0"); r.status != 401 {
		t.Fatalf("basic auth: %d %s", r.status, r.body)
	}
	if r := l.do(t, "GET", "/api/v1/hosts", nil, "Authorization", "Bearer s3cret"); r.status != 200 {
		t.Fatalf("bearer: %d %s", r.status, r.body)
	}
	if r := l.do(t, "GET", "/api/v1/hosts", nil, "Cookie", "tipy_token=s3cret"); r.status != 200 {
		t.Fatalf("cookie: %d %s", r.status, r.body)
	}
	if r := l.do(t, "GET", "/api/v1/health", nil); r.status != 200 {
		t.Fatalf("health must stay open: %d %s", r.status, r.body)
	}
	r := l.do(t, "GET", "/api/v1/hosts?token=s3cret", nil)
	if r.status != 200 || !strings.Contains(r.header.Get("Set-Cookie"), "tipy_token=s3cret") {
		t.Fatalf("token in the query: %d %v", r.status, r.header)
	}
	// The WebSocket needs it too.
	if r := l.do(t, "GET", "/api/v1/events", nil, "Connection", "Upgrade", "Upgrade", "websocket"); r.status != 401 {
		t.Fatalf("WebSocket without a token: %d %s", r.status, r.body)
	}
}

// The OpenAPI document parses and documents every route of the router,
// and documents nothing the router lacks.
func TestOpenAPICoversRoutes(t *testing.T) {
	l := newTestLab(t, nil)
	r := l.do(t, "GET", "/api/v1/openapi.json", nil)
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if r.status != 200 || json.Unmarshal(r.body, &doc) != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi.json: %d %.200s", r.status, r.body)
	}
	documented := map[string]bool{}
	for p, item := range doc.Paths {
		for m := range item {
			documented[strings.ToUpper(m)+" "+p] = true
		}
	}
	routed := map[string]bool{}
	err := chi.Walk(l.srv.router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		route = strings.ReplaceAll(route, "/*/", "/")
		if len(route) > 1 {
			route = strings.TrimSuffix(route, "/")
		}
		routed[method+" "+route] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var missing, extra []string
	for k := range routed {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !routed[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("routes not documented: %v\ndocumented but not routed: %v", missing, extra)
	}
	if len(routed) < 45 {
		t.Fatalf("only %d routes walked", len(routed))
	}
	// Every error response refers to the Error schema.
	if !strings.Contains(string(r.body), `"#/components/schemas/Error"`) {
		t.Fatal("no error schema")
	}
}
