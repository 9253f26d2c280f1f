package web

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestHealthAndHosts(t *testing.T) {
	l := newTestLab(t, nil)
	if m := l.must(t, 200, "GET", "/api/v1/health", nil); m["status"] != "ok" {
		t.Fatalf("health: %v", m)
	}
	m := l.must(t, 200, "GET", "/api/v1/hosts", nil)
	if m["mode"] != "lab" || m["seed"].(float64) != 7 {
		t.Fatalf("hosts: %v", m)
	}
	hosts := m["hosts"].([]any)
	if len(hosts) != 2 {
		t.Fatalf("want 2 hosts, got %v", hosts)
	}
	a := hosts[0].(map[string]any)
	if a["name"] != "a" || a["mac"] != "02:00:00:00:00:07" || a["addresses"].([]any)[0] != addrA+"/24" || a["mtu"].(float64) != 1500 || a["link"] != "lan/a" {
		t.Fatalf("host a: %v", a)
	}
	ifc := a["interfaces"].([]any)[0].(map[string]any)
	if ifc["address_state"] != "preferred" {
		t.Fatalf("interface of a: %v", ifc)
	}
	if m := l.must(t, 200, "GET", "/api/v1/hosts/b", nil); m["name"] != "b" {
		t.Fatalf("host b: %v", m)
	}
	if r := l.do(t, "GET", "/api/v1/hosts/zz", nil); r.status != 404 || r.errCode(t) != "not_found" {
		t.Fatalf("unknown host: %d %s", r.status, r.body)
	}
	if r := l.do(t, "GET", "/api/v1/nothing", nil); r.status != 404 || r.errCode(t) != "not_found" {
		t.Fatalf("unknown route: %d %s", r.status, r.body)
	}
}

// A UDP exchange driven entirely through the API.
func TestUDPRoundTrip(t *testing.T) {
	l := newTestLab(t, nil)
	sb := l.socket(t, "b", "dgram")
	l.must(t, 200, "POST", sb+"/bind", map[string]any{"address": addrB, "port": 9999})
	sa := l.socket(t, "a", "dgram")
	m := l.must(t, 200, "POST", sa+"/sendto", map[string]any{"text": "hello b", "address": addrB, "port": 9999})
	if m["bytes"].(float64) != 7 {
		t.Fatalf("sendto: %v", m)
	}
	m = l.must(t, 200, "POST", sb+"/recvfrom", map[string]any{"max": 100, "timeout_ms": 5000})
	if m["text"] != "hello b" || m["address"] != addrA || m["eof"] != false {
		t.Fatalf("recvfrom: %v", m)
	}
	port := int(m["port"].(float64))
	if port < 32768 {
		t.Fatalf("sender port %d is not ephemeral", port)
	}
	// Answer with binary data, which has no text form.
	bin := []byte{0xff, 0x00, 0xfe}
	l.must(t, 200, "POST", sb+"/sendto", map[string]any{"data": base64.StdEncoding.EncodeToString(bin), "address": addrA, "port": port})
	m = l.must(t, 200, "POST", sa+"/recv", map[string]any{"timeout_ms": 5000})
	if m["data"] != base64.StdEncoding.EncodeToString(bin) || m["bytes"].(float64) != 3 {
		t.Fatalf("recv: %v", m)
	}
	if _, ok := m["text"]; ok {
		t.Fatalf("recv of invalid UTF-8 has a text: %v", m)
	}
	// Connected UDP: send without an address.
	l.must(t, 200, "POST", sa+"/connect", map[string]any{"address": addrB, "port": 9999})
	l.must(t, 200, "POST", sa+"/send", map[string]any{"text": "again"})
	if m := l.must(t, 200, "POST", sb+"/recv", map[string]any{"timeout_ms": 5000}); m["text"] != "again" {
		t.Fatalf("recv after connect: %v", m)
	}
	info := l.must(t, 200, "GET", sa, nil)
	if info["remote"] != addrB+":9999" || info["type"] == "" {
		t.Fatalf("socket info: %v", info)
	}
	list := l.must(t, 200, "GET", "/api/v1/hosts/a/sockets", nil)["sockets"].([]any)
	if len(list) != 1 {
		t.Fatalf("sockets of a: %v", list)
	}
	l.must(t, 204, "DELETE", sa, nil)
	if r := l.do(t, "GET", sa, nil); r.status != 404 {
		t.Fatalf("closed socket: %d %s", r.status, r.body)
	}
}

func TestPingAndARP(t *testing.T) {
	l := newTestLab(t, nil)
	if m := l.must(t, 200, "GET", "/api/v1/hosts/a/arp", nil); len(m["entries"].([]any)) != 0 {
		t.Fatalf("ARP table before the ping: %v", m)
	}
	m := l.must(t, 200, "POST", "/api/v1/hosts/a/ping", map[string]any{"address": addrB, "count": 3, "interval_ms": 10, "timeout_ms": 500})
	if m["sent"].(float64) != 3 || m["received"].(float64) != 3 || len(m["replies"].([]any)) != 3 {
		t.Fatalf("ping: %v", m)
	}
	if rtt := m["replies"].([]any)[0].(map[string]any)["rtt_ms"].(float64); rtt <= 0 {
		t.Fatalf("rtt %v", rtt)
	}
	entries := l.must(t, 200, "GET", "/api/v1/hosts/a/arp", nil)["entries"].([]any)
	if len(entries) != 1 {
		t.Fatalf("ARP table after the ping: %v", entries)
	}
	e := entries[0].(map[string]any)
	if e["address"] != addrB || e["mac"] != "02:00:00:00:00:14" || (e["state"] != "reachable" && e["state"] != "stale") || e["static"] != false {
		t.Fatalf("ARP entry: %v", e)
	}
	// Ping a silent address: everything is lost; the host answers ARP failure.
	m = l.must(t, 200, "POST", "/api/v1/hosts/a/ping", map[string]any{"address": "192.168.2.99", "count": 1, "timeout_ms": 100})
	if m["received"].(float64) != 0 || len(m["lost"].([]any))+len(m["errors"].([]any)) != 1 {
		t.Fatalf("ping of nobody: %v", m)
	}
	st := l.must(t, 200, "GET", "/api/v1/hosts/a/stats", nil)
	link := st["layers"].(map[string]any)["link"].(map[string]any)["counters"].(map[string]any)
	if link["frames_in"].(float64) < 4 || link["frames_out"].(float64) < 4 {
		t.Fatalf("link counters: %v", link)
	}
	// A datagram to a port without a socket: b counts the drop.
	sa := l.socket(t, "a", "dgram")
	l.must(t, 200, "POST", sa+"/sendto", map[string]any{"text": "x", "address": addrB, "port": 5555})
	l.must(t, 200, "POST", "/api/v1/hosts/a/ping", map[string]any{"address": addrB, "count": 1})
	stb := l.must(t, 200, "GET", "/api/v1/hosts/b/stats", nil)
	if n := stb["layers"].(map[string]any)["udp"].(map[string]any)["drops"].(map[string]any)["udp-no-socket"]; n == nil || n.(float64) < 1 {
		t.Fatalf("b's ARP drops: %v", stb["layers"])
	}
	found := false
	for _, d := range stb["drops"].([]any) {
		d := d.(map[string]any)
		found = found || (d["reason"] == "udp-no-socket" && d["layer"] == "udp" && strings.Contains(d["explain"].(string), "port unreachable"))
	}
	if !found {
		t.Fatalf("drops of b: %v", stb["drops"])
	}
}

func TestARPAndRoutes(t *testing.T) {
	l := newTestLab(t, nil)
	m := l.must(t, 201, "POST", "/api/v1/hosts/a/arp", map[string]any{"address": "192.168.2.50", "mac": "02:00:00:00:00:32"})
	if m["state"] != "static" || m["static"] != true {
		t.Fatalf("static entry: %v", m)
	}
	if r := l.do(t, "POST", "/api/v1/hosts/a/arp", map[string]any{"address": "10.9.9.9", "mac": "02:00:00:00:00:32"}); r.status != 400 {
		t.Fatalf("entry off-network: %d %s", r.status, r.body)
	}
	if r := l.do(t, "POST", "/api/v1/hosts/a/arp", map[string]any{"address": "192.168.2.50", "mac": "nope"}); r.status != 400 {
		t.Fatalf("bad mac: %d %s", r.status, r.body)
	}
	l.must(t, 204, "DELETE", "/api/v1/hosts/a/arp/192.168.2.50", nil)
	if r := l.do(t, "DELETE", "/api/v1/hosts/a/arp/192.168.2.50", nil); r.status != 404 {
		t.Fatalf("delete twice: %d %s", r.status, r.body)
	}
	if m := l.must(t, 200, "POST", "/api/v1/hosts/a/arp/announce", nil); m["status"] != "announced" {
		t.Fatalf("announce: %v", m)
	}

	m = l.must(t, 201, "POST", "/api/v1/hosts/a/routes", map[string]any{"destination": "10.1.0.0/16", "gateway": addrB})
	if m["destination"] != "10.1.0.0/16" || m["gateway"] != addrB || m["kind"] != "static" || m["interface"] == "" {
		t.Fatalf("route: %v", m)
	}
	routes := l.must(t, 200, "GET", "/api/v1/hosts/a/routes", nil)["routes"].([]any)
	if len(routes) != 2 || routes[1].(map[string]any)["destination"] != "10.1.0.0/16" {
		t.Fatalf("routes: %v", routes)
	}
	if r := l.do(t, "POST", "/api/v1/hosts/a/routes", map[string]any{"destination": "10.2.0.0/16", "gateway": "172.16.0.1"}); r.status != 400 {
		t.Fatalf("gateway off-link: %d %s", r.status, r.body)
	}
	if r := l.do(t, "DELETE", "/api/v1/hosts/a/routes", nil); r.status != 400 {
		t.Fatalf("delete without destination: %d %s", r.status, r.body)
	}
	l.must(t, 204, "DELETE", "/api/v1/hosts/a/routes?destination=10.1.0.0/16", nil)
	if r := l.do(t, "DELETE", "/api/v1/hosts/a/routes?destination=10.1.0.0/16", nil); r.status != 404 {
		t.Fatalf("delete twice: %d %s", r.status, r.body)
	}
}
