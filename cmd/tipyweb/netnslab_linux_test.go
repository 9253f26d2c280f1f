//go:build linux

package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tipy/tipy/stack/services"
	"github.com/tipy/tipy/tap"
	"github.com/tipy/tipy/tap/netnstest"
)

// TestNetnsLab runs `tipyweb netns-lab` in a namespace of its own name: the
// kernel inside pings tipy and downloads from its http service, and when it
// stops the namespace is gone.
func TestNetnsLab(t *testing.T) {
	netnstest.Require(t)
	name := "tipylabtest" + strings.ReplaceAll(time.Now().Format("150405.000"), ".", "")
	o, err := parseFlags([]string{"--netns", name, "--listen", "127.0.0.1:0", "--quiet", "--services", "http"}, io.Discard)
	if err == nil {
		t.Fatal("--netns without --tap accepted") // netns-lab sets --tap itself
	}
	o = &options{listen: "127.0.0.1:0", mtu: 1500, name: "tipy", seed: 1, quiet: true, netns: name, services: []string{"http"}}
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- netnsLab(ctx, o, &out, io.Discard) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("netns-lab: %v", err)
			}
		}
	}
	defer stop()
	re := regexp.MustCompile(`serving on http://\S+`)
	netnstest.Eventually(t, 15*time.Second, "netns-lab to serve", func() bool { return re.MatchString(out.String()) })
	if !strings.Contains(out.String(), "ip netns exec "+name+" ping 192.168.2.7") {
		t.Fatalf("no instructions: %q", out.String())
	}
	inNS := func(args ...string) (string, error) {
		b, err := exec.Command("ip", append([]string{"netns", "exec", name}, args...)...).CombinedOutput()
		return string(b), err
	}
	// tipy probes its address first (RFC 5227): ping until it answers.
	netnstest.Eventually(t, 20*time.Second, "tipy to answer ping", func() bool {
		_, err := inNS("ping", "-c", "1", "-W", "1", "192.168.2.7")
		return err == nil
	})
	got, err := inNS("sh", "-c", "curl -s --max-time 20 http://192.168.2.7/bytes/100000 | sha256sum")
	if err != nil || !strings.HasPrefix(got, services.BytesSHA256(services.DefaultSeed, 100000)) {
		t.Fatalf("download: %v %q", err, got)
	}
	stop()
	if _, err := os.Stat(tap.NetnsPath(name)); !os.IsNotExist(err) {
		t.Fatalf("namespace %s left behind: %v", name, err)
	}
}
