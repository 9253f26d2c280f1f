package lab

import (
	"errors"
	"strings"
	"testing"

	"github.com/tipy/tipy/tap"
)

// TestBuiltinTopology: the built-in file makes the lab of the issue: four
// hosts, their addresses and gateways, gw forwarding, the five links.
func TestBuiltinTopology(t *testing.T) {
	n, err := Builtin(Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	var got []string
	for _, h := range n.Hosts() {
		for _, ifc := range h.Ifaces() {
			s := h.Name() + " " + ifc.Name() + " " + ifc.Addr().String()
			if c := h.Config(); ifc == h.Iface() && c.Gateway.IsValid() {
				s += " via " + c.Gateway.String()
			}
			got = append(got, s)
		}
	}
	want := []string{
		"tipy eth0 192.168.2.7/24 via 192.168.2.1",
		"peer eth0 192.168.2.20/24 via 192.168.2.1",
		"gw eth0 192.168.2.1/24",
		"gw eth1 10.0.5.1/24",
		"far eth0 10.0.5.10/24 via 10.0.5.1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("built-in lab:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var links []string
	for _, p := range n.Ports() {
		links = append(links, p.Name())
	}
	if strings.Join(links, " ") != "lan/tipy lan/peer lan/gw net5/gw net5/far" {
		t.Fatalf("links %v", links)
	}
	if !n.Host("gw").Forwarding() {
		t.Fatal("gw does not forward")
	}
}

// TestTopologyFile: a file of one's own, with renaming, extra services and
// an impaired link.
func TestTopologyFile(t *testing.T) {
	src := `
mtu 1400
switch a   # declared first
host  one a 10.1.0.2/24 gateway 10.1.0.1
router r  a 10.1.0.1/24 b 10.2.0.1/24 c 10.3.0.1/24
host  two b 10.2.0.2/24 gateway 10.2.0.1 services echo,http
impair b/two loss=5%,delay=3ms
`
	topo, err := ParseTopology(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	n, err := topo.Build(Options{Seed: 1, Name: "me", Services: []string{"echo"}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if n.Host("me") == nil || n.Host("one") != nil {
		t.Fatal("first host not renamed")
	}
	if got := len(n.Host("r").Ifaces()); got != 3 {
		t.Fatalf("router has %d interfaces", got)
	}
	if n.Host("me").MTU() != 1400 {
		t.Fatalf("mtu %d", n.Host("me").MTU())
	}
	p := n.Port("b/two")
	if p == nil || p.Impairment(tap.In).Loss == 0 || p.Impairment(tap.Out).Delay == 0 {
		t.Fatalf("b/two not impaired: %v", p)
	}
	if len(n.Switches()) != 3 || n.Switches()[0].Name() != "a" {
		t.Fatalf("switches %v", n.Switches())
	}
}

func TestTopologyErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"", "no host defined"},
		{"bogus x", `line 1 (bogus x): unknown statement "bogus"`},
		{"mtu 40", "between 68 and 65535"},
		{"host a lan 10.0.0.1", "want an IPv4 address with prefix"},
		{"host a lan 10.0.0.1/24 gateway 10.9.9.9", "inside 10.0.0.0/24"},
		{"host a lan 10.0.0.1/24\nhost a lan 10.0.0.2/24", "line 2 (host a lan 10.0.0.2/24): a host called a is already defined"},
		{"router r lan 10.0.0.1/24", "at least two"},
		{"host a lan 10.0.0.1/24 services telnet", "telnet"},
		{"host a lan 10.0.0.1/24 colour blue", `unexpected "colour"`},
		{"host a lan 10.0.0.1/24\nimpair lan/b loss=1%", "no link lan/b"},
		{"host a lan 10.0.0.1/24\nimpair lan/a loss=200%", "line 2"},
		{"host a l@n 10.0.0.1/24", "switch name"},
	} {
		_, err := ParseTopology(strings.NewReader(tc.src))
		if err == nil || !errors.Is(err, ErrTopology) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an ErrTopology saying %q", tc.src, err, tc.want)
		}
	}
}
