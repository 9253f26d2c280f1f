package tap

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

type readPacket struct {
	data    []byte
	ts      int64
	iface   int
	comment []string
	dir     pcapgo.NgEpbFlag
}

func readPcapng(t *testing.T, b []byte) (*pcapgo.NgReader, []readPacket) {
	t.Helper()
	r, err := pcapgo.NewNgReader(bytes.NewReader(b), pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatalf("read pcapng: %v", err)
	}
	var out []readPacket
	for {
		data, ci, opts, err := r.ReadPacketDataWithOptions()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("read packet %d: %v", len(out), err)
			}
			return r, out
		}
		p := readPacket{data: data, ts: ci.Timestamp.UnixNano(), iface: ci.InterfaceIndex, comment: opts.Comments}
		if opts.Flags != nil {
			p.dir = opts.Flags.Direction
		}
		out = append(out, p)
	}
}

func TestPcapngWriteRead(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewPcapngWriter(&buf, "lan/a")
	if err != nil {
		t.Fatal(err)
	}
	f1 := frame(wire.BroadcastMAC, mac(1), 1, 60)
	f2 := frame(mac(1), mac(2), 2, 1514)
	t1 := clock.Time(1_700_000_000_123_456_789)
	t2 := clock.Time(42) // virtual time: 42 ns after the start
	if err := w.WritePacket(t1, f1, "first frame"); err != nil {
		t.Fatal(err)
	}
	id, err := w.AddInterface("lan/b")
	if err != nil || id != 1 {
		t.Fatalf("AddInterface = %d, %v", id, err)
	}
	if again, _ := w.Interface("lan/b"); again != 1 {
		t.Fatalf("Interface(lan/b) = %d, want 1", again)
	}
	if err := w.WritePacketOn(id, t2, f2, "second, on lan/b"); err != nil {
		t.Fatal(err)
	}
	if err := w.WritePacket(t2+1, f1, ""); err != nil {
		t.Fatal(err)
	}
	if err := w.WritePacketOn(7, t2, f1, ""); err == nil {
		t.Error("writing on interface 7 of 2 succeeded")
	}
	if err := w.WritePacket(t2, f1, strings.Repeat("x", 70000)); err == nil {
		t.Error("a 70000-byte comment was accepted")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r, pkts := readPcapng(t, buf.Bytes())
	if r.NInterfaces() != 2 || r.LinkType() != layers.LinkTypeEthernet {
		t.Fatalf("%d interfaces of link type %v", r.NInterfaces(), r.LinkType())
	}
	for i, name := range []string{"lan/a", "lan/b"} {
		if intf, err := r.Interface(i); err != nil || intf.Name != name {
			t.Errorf("interface %d: %q, %v; want %q", i, intf.Name, err, name)
		}
	}
	if r.SectionInfo().Application != "tipy" {
		t.Errorf("section application %q", r.SectionInfo().Application)
	}
	want := []readPacket{
		{data: f1, ts: int64(t1), iface: 0, comment: []string{"first frame"}},
		{data: f2, ts: int64(t2), iface: 1, comment: []string{"second, on lan/b"}},
		{data: f1, ts: int64(t2 + 1), iface: 0},
	}
	if len(pkts) != len(want) {
		t.Fatalf("read %d packets, want %d", len(pkts), len(want))
	}
	for i, p := range pkts {
		w := want[i]
		if !bytes.Equal(p.data, w.data) || p.ts != w.ts || p.iface != w.iface || strings.Join(p.comment, "|") != strings.Join(w.comment, "|") {
			t.Errorf("packet %d: %d bytes at %d on %d %q; want %d bytes at %d on %d %q",
				i, len(p.data), p.ts, p.iface, p.comment, len(w.data), w.ts, w.iface, w.comment)
		}
	}
}

// captured builds a switch with a capture on a's port, sends one frame each
// way and returns the file and what b and a received.
func captured(t *testing.T, comment func(string, []byte) string) ([]byte, *host, *host, *Capture) {
	t.Helper()
	v := clock.NewVirtual()
	sw := NewSwitch(v, "lan", nil, 1)
	var file bytes.Buffer
	w, err := NewPcapngWriter(&file, "lan/a")
	if err != nil {
		t.Fatal(err)
	}
	ha := &host{port: sw.AddPort("a", mac(1), 1500)}
	c := NewCapture(v, ha.port, w, comment)
	c.SetHandler(func(f []byte) { ha.got = append(ha.got, delivery{v.Now(), bytes.Clone(f)}) })
	b := newHost(v, sw, "b", mac(2), 1500)
	v.RunFor(time.Millisecond)
	if err := c.Send(frame(mac(2), mac(1), 1, 100)); err != nil {
		t.Fatal(err)
	}
	v.RunFor(time.Millisecond)
	mustSend(t, b.port, frame(mac(1), mac(2), 2, 80))
	v.RunFor(time.Millisecond)
	if err := c.Send(make([]byte, 5)); err == nil {
		t.Fatal("capture accepted a runt frame")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if c.Err() != nil {
		t.Fatal(c.Err())
	}
	return file.Bytes(), ha, b, c
}

func TestCapture(t *testing.T) {
	file, a, b, c := captured(t, nil)
	if c.Name() != "lan/a" || c.MTU() != 1500 || c.MAC() != mac(1) || c.Written() != 2 {
		t.Fatalf("capture %s %d %v wrote %d", c.Name(), c.MTU(), c.MAC(), c.Written())
	}
	if len(b.got) != 1 || len(a.got) != 1 {
		t.Fatalf("b got %d, a got %d frames", len(b.got), len(a.got))
	}
	_, pkts := readPcapng(t, file)
	if len(pkts) != 2 {
		t.Fatalf("%d packets captured, want 2 (the runt was refused)", len(pkts))
	}
	out, in := pkts[0], pkts[1]
	if !bytes.Equal(out.data, frame(mac(2), mac(1), 1, 100)) || out.ts != int64(time.Millisecond) ||
		out.comment[0] != "tipy lan/a out" || out.dir != pcapgo.NgEpbFlagDirectionOutbound {
		t.Errorf("out packet: %d bytes at %d %q dir %v", len(out.data), out.ts, out.comment, out.dir)
	}
	wantIn := 2*time.Millisecond + DefaultPropagationDelay
	if !bytes.Equal(in.data, a.got[0].frame) || in.ts != int64(wantIn) ||
		in.comment[0] != "tipy lan/a in" || in.dir != pcapgo.NgEpbFlagDirectionInbound {
		t.Errorf("in packet: %d bytes at %v %q dir %v; want at %v", len(in.data), time.Duration(in.ts), in.comment, in.dir, wantIn)
	}
	if !bytes.Equal(b.got[0].frame, out.data) {
		t.Error("the frame b got differs from the one captured")
	}
}

func TestCaptureCustomComment(t *testing.T) {
	file, _, _, _ := captured(t, func(dir string, f []byte) string {
		return dir + " seq " + string('0'+rune(seqOf(f)))
	})
	_, pkts := readPcapng(t, file)
	if len(pkts) != 2 || pkts[0].comment[0] != "out seq 1" || pkts[1].comment[0] != "in seq 2" {
		t.Fatalf("comments %q, %q", pkts[0].comment, pkts[1].comment)
	}
}

// tshark must print the packet comments tipy writes.
func TestPcapngTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		if os.Getenv("TIPY_REQUIRE_NETNS") == "1" {
			t.Fatal("tshark is not installed, and TIPY_REQUIRE_NETNS=1 requires it")
		}
		t.Skip("tshark is not installed (apt-get install tshark); set TIPY_REQUIRE_NETNS=1 to make this a failure")
	}
	file, _, _, _ := captured(t, nil)
	path := filepath.Join(t.TempDir(), "capture.pcapng")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	var out []byte
	var errs []string
	for _, field := range []string{"frame.comment", "pkt_comment"} {
		cmd := exec.Command(tshark, "-r", path, "-T", "fields", "-e", field)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err = cmd.Output()
		if err == nil {
			break
		}
		errs = append(errs, field+": "+err.Error()+": "+strings.TrimSpace(stderr.String()))
	}
	if err != nil {
		t.Fatalf("tshark failed with both comment fields:\n%s", strings.Join(errs, "\n"))
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || strings.TrimSpace(lines[0]) != "tipy lan/a out" || strings.TrimSpace(lines[1]) != "tipy lan/a in" {
		t.Fatalf("tshark printed %q, want the two comments", out)
	}
}

// A capture whose writer fails keeps the link working and reports the error.
func TestCaptureWriteError(t *testing.T) {
	v := clock.NewVirtual()
	sw := NewSwitch(v, "lan", nil, 1)
	w, err := NewPcapngWriter(&failAfter{n: 200}, "lan/a")
	if err != nil {
		t.Fatal(err)
	}
	pa := sw.AddPort("a", mac(1), 1500)
	b := newHost(v, sw, "b", mac(2), 1500)
	c := NewCapture(v, pa, w, nil)
	for i := range 100 {
		if err := c.Send(frame(mac(2), mac(1), uint32(i), 1000)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	v.RunFor(time.Millisecond)
	if len(b.got) != 100 {
		t.Fatalf("b got %d of 100 frames", len(b.got))
	}
	if !errors.Is(c.Err(), errDiskFull) {
		t.Fatalf("capture error %v, want the writer's", c.Err())
	}
}

var errDiskFull = errors.New("disk full")

type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n < len(p) {
		return 0, errDiskFull
	}
	f.n -= len(p)
	return len(p), nil
}
