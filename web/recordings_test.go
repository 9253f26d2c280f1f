package web

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tipy/tipy/observe"
)

// Record a ping, download the trace and the pcapng, and upload the trace
// as a replay.
func TestRecordingTracePcapngReplay(t *testing.T) {
	l := newTestLab(t, func(c *Config) { c.MaxUpload = 1 << 20 })
	rec := l.must(t, 201, "POST", "/api/v1/recordings", map[string]any{"note": "a ping"})
	id := rec["id"].(string)
	if rec["running"] != true {
		t.Fatalf("recording: %v", rec)
	}
	l.must(t, 200, "POST", "/api/v1/hosts/a/ping", map[string]any{"address": addrB, "count": 2, "interval_ms": 10})
	st := l.must(t, 200, "POST", "/api/v1/recordings/"+id+"/stop", nil)
	if st["running"] != false || st["events"].(float64) == 0 || st["bytes"].(float64) == 0 {
		t.Fatalf("stopped: %v", st)
	}
	if r := l.do(t, "POST", "/api/v1/recordings/"+id+"/stop", nil); r.status != 409 {
		t.Fatalf("stop twice: %d %s", r.status, r.body)
	}
	if list := l.must(t, 200, "GET", "/api/v1/recordings", nil)["recordings"].([]any); len(list) != 1 {
		t.Fatalf("recordings: %v", list)
	}

	r := l.do(t, "GET", "/api/v1/recordings/"+id+"/trace", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("trace: %d %v", r.status, r.header)
	}
	tr, err := observe.NewReader(bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	if h := tr.Header(); h.Seed != 7 || h.Mode != "lab" || h.Note != "a ping" || len(h.Hosts) != 2 {
		t.Fatalf("header: %+v", h)
	}
	evs, err := tr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var comments []string
	for _, e := range evs {
		if len(e.Frame) > 0 {
			comments = append(comments, e.Summary)
		}
	}
	if len(comments) < 8 { // ARP request and reply, two echo requests and replies, each sent and received
		t.Fatalf("only %d frames in the trace", len(comments))
	}

	p := l.do(t, "GET", "/api/v1/recordings/"+id+"/pcapng", nil)
	if p.status != 200 || p.header.Get("X-Tipy-Packets") != jsonInt(len(comments)) || !bytes.HasPrefix(p.body, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		t.Fatalf("pcapng: %d %v %.40x", p.status, p.header, p.body)
	}
	if tshark, err := exec.LookPath("tshark"); err == nil {
		path := filepath.Join(t.TempDir(), "rec.pcapng")
		if err := os.WriteFile(path, p.body, 0o644); err != nil {
			t.Fatal(err)
		}
		var out []byte
		for _, field := range []string{"frame.comment", "pkt_comment"} {
			if out, err = exec.Command(tshark, "-r", path, "-T", "fields", "-e", field).Output(); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("tshark: %v", err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != len(comments) {
			t.Fatalf("tshark printed %d comments, want %d:\n%s", len(lines), len(comments), out)
		}
		for i := range lines {
			if strings.TrimSpace(lines[i]) != comments[i] {
				t.Fatalf("packet %d comment %q, want %q", i+1, lines[i], comments[i])
			}
		}
	} else {
		t.Log("tshark is not installed: the pcapng is checked by its magic only")
	}

	// Upload the trace for playback.
	rp := l.must(t, 201, "POST", "/api/v1/replays?name=ping", r.body)
	if rp["events"].(float64) != float64(len(evs)) || rp["frames"].(float64) != float64(len(comments)) || rp["name"] != "ping" {
		t.Fatalf("replay: %v", rp)
	}
	page := l.must(t, 200, "GET", "/api/v1/replays/"+rp["id"].(string)+"/events?offset=1&limit=2", nil)
	if len(page["events"].([]any)) != 2 || page["total"].(float64) != float64(len(evs)) {
		t.Fatalf("replay page: %v", page)
	}
	if list := l.must(t, 200, "GET", "/api/v1/replays", nil)["replays"].([]any); len(list) != 1 {
		t.Fatalf("replays: %v", list)
	}
	for _, c := range []struct {
		body string
		want string
	}{
		{"hello\n", "malformed header"},
		{"", "not a tipy trace"},
		{`{"format":"tipy-trace","version":99}` + "\n", "version"},
		{strings.Repeat("x", 2<<20), "larger than the limit"},
	} {
		r := l.do(t, "POST", "/api/v1/replays", c.body)
		if r.status != 400 || !strings.Contains(r.json(t)["error"].(map[string]any)["message"].(string), c.want) {
			t.Fatalf("upload %.20q: %d %s", c.body, r.status, r.body)
		}
	}
	l.must(t, 204, "DELETE", "/api/v1/recordings/"+id, nil)
	if r := l.do(t, "GET", "/api/v1/recordings/"+id, nil); r.status != 404 {
		t.Fatalf("deleted recording: %d", r.status)
	}
}

// Without a bus (replay mode) recording and the event stream are 409.
func TestReplayModeHasNoLiveParts(t *testing.T) {
	l := newTestLab(t, func(c *Config) {
		c.Mode, c.Bus, c.Lab, c.Hosts = ModeReplay, nil, nil, nil
		c.HostInfo = []observe.HostInfo{{Name: "tipy"}}
	})
	if r := l.do(t, "POST", "/api/v1/recordings", nil); r.status != 409 {
		t.Fatalf("record in replay mode: %d %s", r.status, r.body)
	}
	if r := l.do(t, "GET", "/api/v1/hosts/tipy/arp", nil); r.status != 404 || !strings.Contains(string(r.body), "no live stack") {
		t.Fatalf("replay host: %d %s", r.status, r.body)
	}
	m := l.must(t, 200, "GET", "/api/v1/hosts", nil)
	if m["mode"] != "replay" || len(m["hosts"].([]any)) != 1 {
		t.Fatalf("hosts: %v", m)
	}
	if _, resp, err := l.dial(t, "", nil); err == nil || resp.StatusCode != 409 {
		t.Fatalf("events in replay mode: %v", err)
	}
}
