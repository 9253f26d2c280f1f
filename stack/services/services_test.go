package services_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/services"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
)

func TestParseList(t *testing.T) {
	if l, err := services.ParseList("all"); err != nil || len(l) != 5 {
		t.Fatalf("all: %v %v", l, err)
	}
	if l, err := services.ParseList(" echo,daytime,echo "); err != nil || strings.Join(l, ",") != "echo,daytime" {
		t.Fatalf("list: %v %v", l, err)
	}
	if _, err := services.ParseList("echo,gopher"); err == nil || !strings.Contains(err.Error(), "gopher") {
		t.Fatalf("unknown service: %v", err)
	}
}

// TestUDPServices asks the echo, discard and daytime servers of one stack
// from another over a virtual switch.
func TestUDPServices(t *testing.T) {
	loop := clock.NewVirtual()
	sw := tap.NewSwitch(loop, "lan", nil, 1)
	mk := func(name string, i byte) *stack.Stack {
		mac := wire.MAC{2, 0, 0, 0, 0, i}
		s, err := stack.New(stack.Config{Name: name, MAC: mac, Addr: netip.MustParsePrefix("10.0.0." + string('0'+i) + "/24"), Seed: 1,
			ARP: stack.ARPConfig{NoProbe: true}}, sw.AddPort(name, mac, 1500), loop, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	server, client := mk("server", 1), mk("client", 2)
	var set *services.Set
	loop.Call(func() {
		var err error
		set, err = services.Start(loop.Now(), server, []string{"echo", "discard", "daytime"})
		if err != nil {
			t.Fatal(err)
		}
	})
	udp := 0
	for _, r := range set.Running {
		if r.Proto == "udp" {
			udp++
		}
	}
	if udp != 3 || len(set.Running) != 6 { // and the TCP halves
		t.Fatalf("running %v", set.Running)
	}
	ctx := make(chan struct{})
	defer close(ctx)
	go func() {
		for {
			select {
			case <-ctx:
				return
			default:
				loop.RunFor(time.Millisecond)
				time.Sleep(10 * time.Microsecond)
			}
		}
	}()
	so, err := client.Socket(stack.AF_INET, stack.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	so.SetTimeout(2 * time.Second)
	ask := func(port uint16, msg string) (string, error) {
		if _, err := so.SendTo([]byte(msg), netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), port)); err != nil {
			return "", err
		}
		b, _, err := so.RecvFrom(1500)
		return string(b), err
	}
	if got, err := ask(services.PortEcho, "hello tipy"); err != nil || got != "hello tipy" {
		t.Fatalf("echo: %q %v", got, err)
	}
	if got, err := ask(services.PortDaytime, "x"); err != nil || !strings.HasSuffix(got, " UTC\r\n") || !strings.HasPrefix(got, "Thu Jan  1 00:00:") {
		t.Fatalf("daytime: %q %v", got, err)
	}
	if got, err := ask(services.PortDiscard, "into the void"); err == nil {
		t.Fatalf("discard answered %q", got)
	}
}
