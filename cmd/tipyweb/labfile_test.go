package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tipy/tipy/observe"
)

// TestLabFile: --lab builds the lab of a topology file; a file with a
// mistake is a usage error naming the line; a missing file a runtime error.
func TestLabFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "two.lab")
	os.WriteFile(good, []byte("mtu 1400\nhost a lan 10.9.0.1/24\nhost b lan 10.9.0.2/24 services echo\nimpair lan/b delay=2ms\n"), 0o644)
	o, err := parseFlags([]string{"--lab", good, "--name", "alpha"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	w, err := newLab(o, observe.NewBus(observe.BusOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	defer w.network.Close()
	if len(w.stacks) != 2 || w.stacks[0].Name() != "alpha" || w.stacks[1].MTU() != 1400 {
		t.Fatalf("hosts: %v", w.hostInfo())
	}
	if w.experiments != nil {
		t.Fatal("experiments offered on a lab they were not written for")
	}

	bad := filepath.Join(dir, "bad.lab")
	os.WriteFile(bad, []byte("host a lan 10.9.0.1/24\nhost b lan nowhere\n"), 0o644)
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--lab", bad}, 2, "line 2"},
		{[]string{"--lab", filepath.Join(dir, "missing.lab")}, 1, "no such file"},
		{[]string{"--lab", good, "--tap", "t0", "--ip", "10.0.0.1/24"}, 2, "does not apply to --tap"},
	} {
		var out, errb bytes.Buffer
		code := run(append(c.args, "--listen", "127.0.0.1:0"), &out, &errb)
		if code != c.code || !strings.Contains(out.String()+errb.String(), c.msg) {
			t.Errorf("%v: exit %d (want %d), output %q (want %q)", c.args, code, c.code, out.String()+errb.String(), c.msg)
		}
	}
}
