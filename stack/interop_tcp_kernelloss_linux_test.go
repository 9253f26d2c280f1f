//go:build linux

package stack_test

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/tap"
)

// tkKernelLoss makes the kernel itself lose 1% of the frames it sends to
// tipy and 1% of those it receives from tipy: iptables' statistic match in
// the namespace's OUTPUT and INPUT chains. It is the loss part of the netem
// setting of the acceptance, done by the kernel where the kernel has no
// netem (this one's configuration leaves sch_netem out). It returns a
// function that reads how many packets the two rules dropped.
func tkKernelLoss(t *testing.T, tk *tcpKernel) func() (out, in int) {
	t.Helper()
	ipt, err := exec.LookPath("iptables")
	if err != nil {
		t.Fatal("iptables is missing (Debian package iptables; make deps installs it)")
	}
	for _, rule := range [][]string{
		{"-A", "OUTPUT", "-o", koTAP, "-m", "statistic", "--mode", "random", "--probability", "0.01", "-j", "DROP"},
		{"-A", "INPUT", "-i", koTAP, "-m", "statistic", "--mode", "random", "--probability", "0.01", "-j", "DROP"},
	} {
		tk.ns.Run(t, append([]string{ipt, "-w"}, rule...)...)
	}
	count := func(chain string) int {
		out := tk.ns.Run(t, ipt, "-w", "-L", chain, "-v", "-x", "-n")
		m := regexp.MustCompile(`(?m)^\s*(\d+)\s+\d+\s+DROP`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no DROP rule in %s:\n%s", chain, out)
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return func() (int, int) { return count("OUTPUT"), count("INPUT") }
}

// TestKernelTCPBulkKernelSideLoss: the bulk transfers with the kernel
// losing 1% of the frames both ways (tkKernelLoss), and tipy's side of the
// link delaying what it receives by 20 ms and holding back a quarter of it
// 5 ms more (the delay and reordering netem would add, which this kernel
// cannot): every byte arrives, the digests match, and the kernel's rules
// did drop frames.
func TestKernelTCPBulkKernelSideLoss(t *testing.T) {
	in := tap.Impairment{Delay: 20 * time.Millisecond, Reorder: 0.25, ReorderDelay: 5 * time.Millisecond}
	tk := newTCPKernel(t, 67, tkOptions{in: &in})
	dropped := tkKernelLoss(t, tk)
	tk.startHTTP(t)
	// tipy sending through 1% loss and 20 ms is loss-limited (about 1 MB/s,
	// as the Mathis formula says): the full 64 MiB download takes a minute
	// and a half, so make test moves less unless TIPY_TCP_FULL=1.
	down := int64(tcpImpairedDownMin)
	if os.Getenv("TIPY_TCP_FULL") == "1" {
		down = 64 << 20
	} else {
		t.Logf("download with kernel-side loss is %d bytes, not 64 MiB: set TIPY_TCP_FULL=1 for the full size", down)
	}
	tkDownload(t, tk, down, 240*time.Second, true)
	tkUpload(t, tk, tcpNetemSize, 120*time.Second)
	out, inDrops := dropped()
	var ts stack.TCPStats
	tk.loop.Call(func() { ts = tk.s.TCPStats() })
	t.Logf("the kernel dropped %d frames it was sending and %d it received; tipy TCP: %+v", out, inDrops, ts)
	if out == 0 || inDrops == 0 {
		t.Fatalf("the kernel's loss rules dropped %d outgoing and %d incoming frames: the test did not test loss", out, inDrops)
	}
	if !strings.Contains(tk.ns.Run(t, "iptables", "-w", "-S"), "statistic") {
		t.Fatal("the loss rules are gone")
	}
}
