package web

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/templates"
)

// arpRequestB64 is a 42-byte ARP request frame: 192.168.2.7 asks for 192.168.2.20.
const arpRequestB64 = "////////AnRlMW+JCAYAAQgABgQAAQJ0ZTFvicCoAgcAAAAAAADAqAIU"

func TestPagesServeEveryNavEntry(t *testing.T) {
	l := newTestLab(t, nil)
	for _, n := range templates.Nav {
		r := l.do(t, "GET", n.Path, nil)
		if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
			t.Fatalf("GET %s: %d %s", n.Path, r.status, r.header.Get("Content-Type"))
		}
		body := string(r.body)
		start := strings.Index(body, `<script id="tipy-data" type="application/json">`)
		if start < 0 {
			t.Fatalf("GET %s: no tipy-data script:\n%s", n.Path, body)
		}
		raw := body[start+len(`<script id="tipy-data" type="application/json">`):]
		raw = raw[:strings.Index(raw, "</script>")]
		var d templates.PageData
		if err := json.Unmarshal([]byte(raw), &d); err != nil {
			t.Fatalf("GET %s: tipy-data %q: %v", n.Path, raw, err)
		}
		if d.Page != n.Page || d.Mode != ModeLab || d.Seed != 7 || !d.Live || strings.Join(d.Hosts, ",") != "a,b" {
			t.Fatalf("GET %s: page data %+v", n.Path, d)
		}
		if !strings.Contains(body, `aria-current="page" data-nav="`+n.Page+`"`) {
			t.Fatalf("GET %s: the navigation does not mark the page as current", n.Path)
		}
		if !strings.Contains(body, `src="/static/app.js"`) || strings.Contains(body, "https://") {
			t.Fatalf("GET %s: the page must load the embedded bundle and nothing from elsewhere", n.Path)
		}
	}
}

func TestStaticAssetsAreEmbedded(t *testing.T) {
	l := newTestLab(t, nil)
	for path, typ := range map[string]string{"/static/app.js": "javascript", "/static/app.css": "text/css"} {
		r := l.do(t, "GET", path, nil)
		if r.status != 200 || !strings.Contains(r.header.Get("Content-Type"), typ) || len(r.body) < 1000 {
			t.Fatalf("GET %s: %d %q, %d bytes", path, r.status, r.header.Get("Content-Type"), len(r.body))
		}
	}
	if r := l.do(t, "GET", "/static/nothing.js", nil); r.status != 404 {
		t.Fatalf("a missing asset: %d", r.status)
	}
	// The API's JSON 404 is untouched by the pages.
	if r := l.do(t, "GET", "/api/v1/nothing", nil); r.status != 404 || r.errCode(t) != CodeNotFound {
		t.Fatalf("API 404: %d %s", r.status, r.body)
	}
}

func TestFrameSummaries(t *testing.T) {
	l := newTestLab(t, nil)
	frame, _ := base64.StdEncoding.DecodeString(arpRequestB64)
	l.srv.frames.put(observe.Event{Seq: 5, Host: "a", Layer: observe.LayerLink, Kind: observe.KindTX, Frame: frame})
	m := l.must(t, 200, "GET", "/ui/frames?seqs=5,6", nil)
	frames := m["frames"].(map[string]any)
	if len(frames) != 1 {
		t.Fatalf("want only seq 5 (6 is not kept): %v", frames)
	}
	f := frames["5"].(map[string]any)
	if f["protocol"] != "ARP" || f["length"].(float64) != 42 || !strings.Contains(f["info"].(string), "192.168.2.20") || f["dissection"] != nil {
		t.Fatalf("summary of the ARP request: %v", f)
	}
	if r := l.do(t, "GET", "/ui/frames?seqs=5,x", nil); r.status != 400 || !strings.Contains(r.errMessage(t), `"x"`) {
		t.Fatalf("bad seq: %d %s", r.status, r.body)
	}
	if r := l.do(t, "GET", "/ui/frames?seqs="+strings.Repeat("1,", maxSummaries)+"1", nil); r.status != 400 {
		t.Fatalf("too many seqs: %d %s", r.status, r.body)
	}
	if m := l.must(t, 200, "GET", "/ui/frames", nil); len(m["frames"].(map[string]any)) != 0 {
		t.Fatalf("no seqs: %v", m)
	}
}

func TestDissectFrames(t *testing.T) {
	l := newTestLab(t, nil)
	m := l.must(t, 200, "POST", "/ui/dissect", `{"frames":["`+arpRequestB64+`","AAEC"]}`)
	frames := m["frames"].([]any)
	if len(frames) != 2 {
		t.Fatalf("frames: %v", frames)
	}
	arp := frames[0].(map[string]any)
	d := arp["dissection"].(map[string]any)
	if arp["protocol"] != "ARP" || len(d["layers"].([]any)) != 2 || d["problem"] != nil {
		t.Fatalf("ARP dissection: %v", arp)
	}
	short := frames[1].(map[string]any)
	if short["length"].(float64) != 3 || short["dissection"].(map[string]any)["problem"] == nil {
		t.Fatalf("a 3-byte frame must dissect with a problem: %v", short)
	}
	for body, want := range map[string]string{`{"frames":`: "", `{"frames":[],"x":1}`: "x", `{"frames":["!"]}`: ""} {
		if r := l.do(t, "POST", "/ui/dissect", body); r.status != 400 || r.errCode(t) != CodeBadRequest || !strings.Contains(string(r.body), want) {
			t.Fatalf("POST /ui/dissect %s: %d %s", body, r.status, r.body)
		}
	}
}

func TestPagesNeedTheTokenBeyondLoopback(t *testing.T) {
	l := newTestLab(t, func(c *Config) { c.Listen = "0.0.0.0:8080"; c.Token = "sesame" })
	for _, path := range []string{"/", "/frames", "/static/app.js", "/ui/frames?seqs=1"} {
		if r := l.do(t, "GET", path, nil); r.status != 401 {
			t.Fatalf("GET %s without the token: %d", path, r.status)
		}
	}
	r := l.do(t, "GET", "/frames?token=sesame", nil)
	if r.status != 200 || !strings.Contains(r.header.Get("Set-Cookie"), TokenCookie+"=sesame") {
		t.Fatalf("GET /frames?token=: %d %v", r.status, r.header)
	}
	if r := l.do(t, "GET", "/static/app.css", nil, "Authorization", "Bearer sesame"); r.status != 200 {
		t.Fatalf("asset with the token: %d", r.status)
	}
}

// errMessage returns the message of an error answer.
func (r reply) errMessage(t *testing.T) string {
	t.Helper()
	r.errCode(t)
	return r.json(t)["error"].(map[string]any)["message"].(string)
}
