package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/web"
)

func TestExitStatus(t *testing.T) {
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"version"}, 0, "tipyweb "},
		{[]string{"--bogus"}, 2, "flag provided but not defined"},
		{[]string{"--tap", "tap7"}, 2, "--tap needs --ip"},
		{[]string{"--ip", "10.0.0.1/24"}, 2, "apply to --tap mode"},
		{[]string{"--seed", "x"}, 2, "--seed"},
		{[]string{"--mtu", "20"}, 2, "--mtu 20"},
		{[]string{"--tap", "t", "--ip", "300.1.1.1/24"}, 2, "--ip"},
		{[]string{"--listen", "nonsense"}, 2, "host:port"},
		{[]string{"--impair", "loss=120%"}, 2, "loss"},
		{[]string{"replay"}, 2, "usage"},
		{[]string{"--services", "gopher"}, 2, "unknown service"},
		{[]string{"replay", "/nonexistent/trace"}, 1, "no such file"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := run(c.args, &out, &errb)
		if code != c.code || !strings.Contains(out.String()+errb.String(), c.msg) {
			t.Errorf("%v: exit %d (want %d), output %q (want %q)", c.args, code, c.code, out.String()+errb.String(), c.msg)
		}
	}
}

func TestLabAPIAndRecording(t *testing.T) {
	o, err := parseFlags([]string{"--seed", "42"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	bus := observe.NewBus(observe.BusOptions{})
	w, err := newLab(o, bus)
	if err != nil {
		t.Fatal(err)
	}
	h, err := web.New(web.Config{Hosts: w.stacks, Bus: bus, Lab: w.lab, Mode: w.mode, Seed: w.seed})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/v1/hosts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{`"tipy"`, `"peer"`, `"gw"`, `"far"`, `192.168.2.7/24`, `192.168.2.20/24`, `192.168.2.1/24`, `10.0.5.1/24`, `10.0.5.10/24`} {
		if !strings.Contains(string(body), want) {
			t.Fatalf("GET /hosts lacks %s: %s", want, body)
		}
	}
	// A trace written for this lab replays.
	path := filepath.Join(t.TempDir(), "lab.trace")
	f, _ := os.Create(path)
	err = observe.WriteTrace(f, observe.TraceHeader{Format: observe.TraceFormat, Version: observe.TraceVersion, Seed: 42, Hosts: w.hostInfo(), Mode: "lab"},
		[]observe.Event{{Seq: 1, Host: "tipy", Layer: observe.LayerLink, Kind: observe.KindTX, Summary: "x"}})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // serve nothing: only load the trace
	ro, _ := parseFlags([]string{"--listen", "127.0.0.1:0"}, os.Stderr)
	if err := replay(ctx, path, ro, &out); err != nil || !strings.Contains(out.String(), "seed 42, 4 hosts, 1 events") {
		t.Fatalf("replay: %v %q", err, out.String())
	}
}

// TestLabTopology: host tipy reaches far through router gw (TTL one lower),
// and a datagram with TTL 1 draws time exceeded from gw.
func TestLabTopology(t *testing.T) {
	o, err := parseFlags([]string{"--seed", "5"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	w, err := newLab(o, observe.NewBus(observe.BusOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := w.network.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.network.Close()
	tipy := w.stacks[0]
	far := netip.MustParseAddr("10.0.5.10")
	// The addresses are probed first (RFC 5227, a few seconds of the lab's
	// clock, which runs at real speed): poll until every one is usable.
	deadline := time.Now().Add(20 * time.Second)
	for {
		ready := true
		for _, s := range w.stacks {
			s.Call(func() {
				for _, ifc := range s.Ifaces() {
					ready = ready && ifc.AddressState() == stack.AddrPreferred
				}
			})
		}
		if ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("lab addresses not usable after 20 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	res, err := tipy.Ping(ctx, far, stack.PingOptions{Count: 1, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Received != 1 || res.Replies[0].TTL != 63 {
		t.Fatalf("ping far: %+v", res)
	}
	res, err = tipy.Ping(ctx, far, stack.PingOptions{Count: 1, TTL: 1, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 1 || res.Errors[0].From != netip.MustParseAddr("192.168.2.1") {
		t.Fatalf("ping far with TTL 1: %+v", res)
	}
}
