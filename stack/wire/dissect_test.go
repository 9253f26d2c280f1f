package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var dissectUpdate = flag.Bool("update", false, "rewrite testdata/dissect/*.golden from the current output")

var (
	disMACA = MAC{0x02, 0x00, 0x00, 0x00, 0x00, 0x07}
	disMACB = MAC{0x02, 0x00, 0x00, 0x00, 0x00, 0x14}
	disIPA  = netip.MustParseAddr("192.168.2.7")
	disIPB  = netip.MustParseAddr("192.168.2.20")
)

// disEthFrame wraps payload in an Ethernet header and pads the frame to
// the 60-byte minimum, as a link does.
func disEthFrame(t testing.TB, src, dst MAC, typ EtherType, payload []byte) []byte {
	t.Helper()
	frame := make([]byte, max(EthernetHeaderLen+len(payload), EthernetMinFrameLen))
	copy(frame[EthernetHeaderLen:], payload)
	h := EthernetHeader{Dst: dst, Src: src, Type: typ}
	if err := h.Marshal(frame); err != nil {
		t.Fatal(err)
	}
	return frame
}

// disIPv4 marshals an IPv4 header in front of payload.
func disIPv4(t testing.TB, h IPv4Header, payload []byte) []byte {
	t.Helper()
	pkt := make([]byte, h.HeaderLen()+len(payload))
	copy(pkt[h.HeaderLen():], payload)
	if err := h.Marshal(pkt); err != nil {
		t.Fatal(err)
	}
	return pkt
}

// disIPv4Frame is an Ethernet frame from A to B around an IPv4 datagram.
func disIPv4Frame(t testing.TB, h IPv4Header, payload []byte) []byte {
	t.Helper()
	return disEthFrame(t, disMACA, disMACB, EtherTypeIPv4, disIPv4(t, h, payload))
}

func disIPHeader(proto IPProtocol) IPv4Header {
	return IPv4Header{ID: 0x1234, Flags: IPv4FlagDF, TTL: 64, Protocol: proto, Src: disIPA, Dst: disIPB}
}

func disUDPBytes(t testing.TB, sport, dport uint16, data []byte, src, dst netip.Addr) []byte {
	t.Helper()
	b := make([]byte, UDPHeaderLen+len(data))
	copy(b[UDPHeaderLen:], data)
	h := UDPHeader{SrcPort: sport, DstPort: dport}
	if err := h.Marshal(b, src, dst); err != nil {
		t.Fatal(err)
	}
	return b
}

func disTCPBytes(t testing.TB, h TCPHeader, data []byte) []byte {
	t.Helper()
	b := make([]byte, h.HeaderLen()+len(data))
	copy(b[h.HeaderLen():], data)
	if err := h.Marshal(b, disIPA, disIPB); err != nil {
		t.Fatal(err)
	}
	return b
}

func disICMPBytes(t testing.TB, h ICMPHeader, data []byte) []byte {
	t.Helper()
	b := make([]byte, ICMPHeaderLen+len(data))
	copy(b[ICMPHeaderLen:], data)
	if err := h.Marshal(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func disPattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// disFrames builds the golden frames, by name.
func disFrames(t testing.TB) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	arp := make([]byte, ARPLen)
	req := ARPHeader{Op: ARPRequest, SHA: disMACA, SPA: disIPA, TPA: disIPB}
	if err := req.Marshal(arp); err != nil {
		t.Fatal(err)
	}
	m["arp_request"] = disEthFrame(t, disMACA, BroadcastMAC, EtherTypeARP, arp)
	arp = make([]byte, ARPLen)
	rep := ARPHeader{Op: ARPReply, SHA: disMACB, SPA: disIPB, THA: disMACA, TPA: disIPA}
	if err := rep.Marshal(arp); err != nil {
		t.Fatal(err)
	}
	m["arp_reply"] = disEthFrame(t, disMACB, disMACA, EtherTypeARP, arp)

	echo := disICMPBytes(t, ICMPHeader{Type: ICMPEchoRequest, ID: 1, Seq: 2}, disPattern(56))
	m["icmp_echo_request"] = disIPv4Frame(t, disIPHeader(ProtoICMP), echo)

	// B's UDP datagram to A's closed port 9999, and A's answer quoting it.
	orig := disIPv4(t, IPv4Header{ID: 7, TTL: 64, Protocol: ProtoUDP, Src: disIPB, Dst: disIPA},
		disUDPBytes(t, 40000, 9999, []byte("hello, port 9999"), disIPB, disIPA))
	unreach := disICMPBytes(t, ICMPHeader{Type: ICMPDestinationUnreachable, Code: ICMPPortUnreachable}, orig[:IPv4MinHeaderLen+8])
	h := disIPHeader(ProtoICMP)
	h.Flags = 0
	m["icmp_port_unreachable"] = disIPv4Frame(t, h, unreach)

	h = disIPHeader(ProtoICMP)
	rr := RecordRouteOption(3)
	rr.Data[0] = 8 // one hop recorded
	copy(rr.Data[1:], []byte{10, 0, 0, 1})
	h.Options = []IPv4Option{rr}
	m["ipv4_record_route"] = disIPv4Frame(t, h, echo)

	// A 1000-byte UDP datagram cut into fragments of 480 and 528 bytes.
	whole := disUDPBytes(t, 4000, 5000, disPattern(1000), disIPA, disIPB)
	h = IPv4Header{ID: 0x4242, Flags: IPv4FlagMF, TTL: 64, Protocol: ProtoUDP, Src: disIPA, Dst: disIPB}
	m["fragment_first"] = disIPv4Frame(t, h, whole[:480])
	h.Flags, h.FragOff = 0, 480
	m["fragment_nonfirst"] = disIPv4Frame(t, h, whole[480:])

	m["udp"] = disIPv4Frame(t, disIPHeader(ProtoUDP), disUDPBytes(t, 4000, 53, []byte("tipy question"), disIPA, disIPB))

	syn := TCPHeader{SrcPort: 4000, DstPort: 80, Seq: 1000, Flags: TCPFlagSYN, Window: 65535,
		Options: TCPOptions{MSS: 1460, HasMSS: true, SACKPermitted: true, TSVal: 111, HasTS: true, WScale: 7, HasWScale: true}}
	m["tcp_syn_options"] = disIPv4Frame(t, disIPHeader(ProtoTCP), disTCPBytes(t, syn, nil))

	data := TCPHeader{SrcPort: 80, DstPort: 4000, Seq: 5000, Ack: 1001, Flags: TCPFlagACK | TCPFlagPSH, Window: 502,
		Options: TCPOptions{TSVal: 200, TSEcr: 100, HasTS: true, NumSACK: 2,
			SACK: [TCPMaxSACKBlocks]SACKBlock{{2000, 3000}, {4000, 5000}}}}
	m["tcp_data_sack"] = disIPv4Frame(t, disIPHeader(ProtoTCP), disTCPBytes(t, data, []byte("GET / HTTP/1.0\r\n")))

	bad := bytes.Clone(m["udp"])
	bad[EthernetHeaderLen+ipv4Checksum] ^= 0x5a
	m["bad_ipv4_checksum"] = bad

	seg := disTCPBytes(t, syn, nil)[:10]
	m["truncated_tcp"] = disIPv4Frame(t, disIPHeader(ProtoTCP), seg)

	m["unknown_ethertype"] = disEthFrame(t, disMACA, disMACB, EtherType(0x88b5), []byte("an experimental payload"))
	return m
}

// disCheckInvariants checks what every dissection promises: the layers tile
// the frame, every node lies within the frame and its parent, children are
// in byte order, masks fit their bytes, the tree has a bounded size, and
// Problem names a layer.
func disCheckInvariants(t testing.TB, frame []byte, d Dissection) {
	t.Helper()
	if len(d.Layers) == 0 {
		t.Fatal("no layers")
	}
	nodes := 0
	var walk func(f *Field, lo, hi int, path string)
	walk = func(f *Field, lo, hi int, path string) {
		nodes++
		path += "/" + f.Name
		if f.Name == "" || f.Label == "" {
			t.Fatalf("%s: empty name or label: %+v", path, *f)
		}
		if f.Length < 0 || f.Offset < lo || f.End() > hi {
			t.Fatalf("%s: [%d,%d) outside its parent [%d,%d)", path, f.Offset, f.End(), lo, hi)
		}
		switch f.Severity {
		case "", SeverityWarning, SeverityError:
		default:
			t.Fatalf("%s: severity %q", path, f.Severity)
		}
		if f.Mask != 0 && (f.Length == 0 || f.Length > 4 || (f.Length < 4 && f.Mask>>(8*f.Length) != 0)) {
			t.Fatalf("%s: mask 0x%x does not fit %d bytes", path, f.Mask, f.Length)
		}
		for i := range f.Children {
			if i > 0 && f.Children[i].Offset < f.Children[i-1].Offset {
				t.Fatalf("%s: child %s at %d comes after %s at %d", path, f.Children[i].Name, f.Children[i].Offset,
					f.Children[i-1].Name, f.Children[i-1].Offset)
			}
			walk(&f.Children[i], f.Offset, f.End(), path)
		}
	}
	at := 0
	for i := range d.Layers {
		l := &d.Layers[i]
		if l.Offset != at {
			t.Fatalf("layer %d (%s) starts at %d, the previous ended at %d", i, l.Name, l.Offset, at)
		}
		// An empty layer is the one that failed, with at most the Ethernet
		// padding after it.
		onlyPaddingAfter := i == len(d.Layers)-1 || (i == len(d.Layers)-2 && d.Layers[i+1].Name == "padding")
		if l.Length == 0 && len(frame) > 0 && (d.Problem == nil || d.Problem.Layer != l.Name || !onlyPaddingAfter) {
			t.Fatalf("layer %d (%s) is empty and is not the failing last layer", i, l.Name)
		}
		walk(l, 0, len(frame), "")
		at = l.End()
	}
	if at != len(frame) {
		t.Fatalf("layers end at %d, the frame at %d", at, len(frame))
	}
	if nodes > 1000 {
		t.Fatalf("%d nodes for a %d-byte frame", nodes, len(frame))
	}
	if d.Protocol == "" || d.Info == "" || d.Summary == "" {
		t.Fatalf("empty protocol, info or summary: %q %q %q", d.Protocol, d.Info, d.Summary)
	}
	if p := d.Problem; p != nil {
		found := false
		for _, l := range d.Layers {
			found = found || l.Name == p.Layer
		}
		if !found || p.Offset < 0 || p.Offset > len(frame) || p.Reason == "" {
			t.Fatalf("problem %+v does not name a layer or an offset in the frame", *p)
		}
	}
}

func TestDissectGolden(t *testing.T) {
	for name, frame := range disFrames(t) {
		t.Run(name, func(t *testing.T) {
			d := Dissect(frame)
			disCheckInvariants(t, frame, d)
			got, err := json.MarshalIndent(d, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "dissect", name+".golden")
			if *dissectUpdate {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./stack/wire -run Dissect -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("dissection differs from %s (rerun with -update if the change is intended):\n%s", path, got)
			}
		})
	}
}

// disMust returns the first node named name, failing the test if absent.
func disMust(t *testing.T, d *Dissection, name string) *Field {
	t.Helper()
	f := d.Find(name)
	if f == nil {
		t.Fatalf("no field %q", name)
	}
	return f
}

func disWantRange(t *testing.T, f *Field, off, n int) {
	t.Helper()
	if f.Offset != off || f.Length != n {
		t.Fatalf("%s covers [%d,%d), want [%d,%d)", f.Name, f.Offset, f.End(), off, off+n)
	}
}

func disLayerNames(d Dissection) string {
	var s []string
	for _, l := range d.Layers {
		s = append(s, l.Name)
	}
	return strings.Join(s, " ")
}

func TestDissectIPv4Fields(t *testing.T) {
	frames := disFrames(t)
	d := Dissect(frames["tcp_syn_options"])
	ttl := disMust(t, &d, "ipv4.ttl")
	disWantRange(t, ttl, 22, 1)
	if ttl.Value != "64" || ttl.Label != "Time to Live: 64" {
		t.Errorf("ttl %q %q", ttl.Value, ttl.Label)
	}
	ihl := disMust(t, &d, "ipv4.ihl")
	disWantRange(t, ihl, 14, 1)
	if ihl.Mask != 0x0f || ihl.Value != "5" {
		t.Errorf("ihl mask 0x%x value %q", ihl.Mask, ihl.Value)
	}
	df := disMust(t, &d, "ipv4.flags.df")
	disWantRange(t, df, 20, 1)
	if df.Mask != 0x40 || df.Value != "1" {
		t.Errorf("df mask 0x%x value %q", df.Mask, df.Value)
	}
	if mf := disMust(t, &d, "ipv4.flags.mf"); mf.Value != "0" || mf.Mask != 0x20 {
		t.Errorf("mf %+v", *mf)
	}
	sum := disMust(t, &d, "ipv4.checksum")
	disWantRange(t, sum, 24, 2)
	if sum.Severity != "" || !strings.Contains(sum.Label, "[correct]") {
		t.Errorf("checksum %+v", *sum)
	}
	if src := disMust(t, &d, "ipv4.src"); src.Value != "192.168.2.7" || src.Offset != 26 {
		t.Errorf("src %+v", *src)
	}
	if d.Source != "192.168.2.7" || d.Destination != "192.168.2.20" || d.Protocol != "TCP" {
		t.Errorf("source %q destination %q protocol %q", d.Source, d.Destination, d.Protocol)
	}
}

func TestDissectTCPSynOptions(t *testing.T) {
	d := Dissect(disFrames(t)["tcp_syn_options"])
	mss := disMust(t, &d, "tcp.options.mss")
	disWantRange(t, mss, 54, 4)
	if v := disMust(t, &d, "tcp.options.mss.value"); v.Value != "1460" || v.Offset != 56 || v.Length != 2 {
		t.Errorf("mss value %+v", *v)
	}
	ws := disMust(t, &d, "tcp.options.wscale")
	disWantRange(t, ws, 71, 3)
	if m := disMust(t, &d, "tcp.options.wscale.multiplier"); m.Value != "128" {
		t.Errorf("multiplier %q", m.Value)
	}
	disWantRange(t, disMust(t, &d, "tcp.options.sack_perm"), 58, 2)
	ts := disMust(t, &d, "tcp.options.timestamp")
	disWantRange(t, ts, 60, 10)
	if v := disMust(t, &d, "tcp.options.timestamp.tsval"); v.Value != "111" {
		t.Errorf("tsval %q", v.Value)
	}
	disWantRange(t, disMust(t, &d, "tcp.options.nop"), 70, 1)
	syn := disMust(t, &d, "tcp.flags.syn")
	if syn.Mask != 0x02 || syn.Value != "1" || syn.Offset != 47 {
		t.Errorf("syn %+v", *syn)
	}
	if ack := disMust(t, &d, "tcp.flags.ack"); ack.Value != "0" {
		t.Errorf("ack flag %+v", *ack)
	}
	disWantRange(t, disMust(t, &d, "tcp"), 34, 40)
	if want := "IP 192.168.2.7.4000 > 192.168.2.20.80: Flags [S], seq 1000, win 65535, options [mss 1460,sackOK,TS val 111 ecr 0,nop,wscale 7], length 0"; d.Summary != want {
		t.Errorf("summary %q\nwant    %q", d.Summary, want)
	}
	if got := disLayerNames(d); got != "ethernet ipv4 tcp" {
		t.Errorf("layers %s", got)
	}
}

func TestDissectTCPDataSACK(t *testing.T) {
	d := Dissect(disFrames(t)["tcp_data_sack"])
	sack := disMust(t, &d, "tcp.options.sack")
	if len(sack.Children) != 4 { // kind, length, two blocks
		t.Fatalf("sack children %d", len(sack.Children))
	}
	blk := sack.Children[2]
	disWantRange(t, &blk, sack.Offset+2, 8)
	if blk.Children[0].Value != "2000" || blk.Children[1].Value != "3000" {
		t.Errorf("first block %+v", blk)
	}
	data := d.Layers[len(d.Layers)-1]
	if data.Name != "data" || data.Label != "Data (16 bytes)" || data.End() != len(disFrames(t)["tcp_data_sack"]) {
		t.Errorf("data layer %+v", data)
	}
	if !strings.HasPrefix(d.Info, "80 > 4000: Flags [P.], seq 5000:5016, ack 1001") {
		t.Errorf("info %q", d.Info)
	}
}

func TestDissectARP(t *testing.T) {
	frames := disFrames(t)
	d := Dissect(frames["arp_request"])
	if got := disLayerNames(d); got != "ethernet arp padding" {
		t.Fatalf("layers %s", got)
	}
	disWantRange(t, disMust(t, &d, "arp.tpa"), 38, 4)
	disWantRange(t, disMust(t, &d, "padding"), 42, 18)
	if dst := disMust(t, &d, "ethernet.dst"); !strings.Contains(dst.Label, "broadcast") {
		t.Errorf("dst label %q", dst.Label)
	}
	if d.Protocol != "ARP" || d.Info != "Request who-has 192.168.2.20 tell 192.168.2.7" || d.Source != disMACA.String() {
		t.Errorf("protocol %q info %q source %q", d.Protocol, d.Info, d.Source)
	}
	d = Dissect(frames["arp_reply"])
	if op := disMust(t, &d, "arp.op"); op.Value != "2" {
		t.Errorf("op %+v", *op)
	}
	if d.Summary != "ARP, Reply 192.168.2.20 is-at 02:00:00:00:00:14" {
		t.Errorf("summary %q", d.Summary)
	}
}

func TestDissectICMPQuote(t *testing.T) {
	d := Dissect(disFrames(t)["icmp_port_unreachable"])
	q := disMust(t, &d, "icmp.quote")
	disWantRange(t, q, 42, 28)
	if len(q.Children) != 2 || q.Children[0].Name != "ipv4" || q.Children[1].Name != "udp" {
		t.Fatalf("quote children %+v", q.Children)
	}
	disWantRange(t, &q.Children[0], 42, 20)
	if p := q.Children[1].Find("udp.dstport"); p == nil || p.Value != "9999" || p.Offset != 64 {
		t.Errorf("quoted dst port %+v", p)
	}
	if sum := q.Children[1].Find("udp.checksum"); sum == nil || !strings.Contains(sum.Label, "unverified") || sum.Severity != "" {
		t.Errorf("quoted udp checksum %+v", sum)
	}
	if sum := q.Children[0].Find("ipv4.checksum"); sum == nil || !strings.Contains(sum.Label, "[correct]") {
		t.Errorf("quoted ipv4 checksum %+v", sum)
	}
	if d.Info != "192.168.2.7 udp port 9999 unreachable" || d.Protocol != "ICMP" {
		t.Errorf("info %q protocol %q", d.Info, d.Protocol)
	}

	// The same error quoting only 10 bytes of the datagram.
	h := disIPHeader(ProtoICMP)
	msg := disICMPBytes(t, ICMPHeader{Type: ICMPDestinationUnreachable, Code: ICMPHostUnreachable}, disPattern(10))
	frame := disIPv4Frame(t, h, msg)
	d = Dissect(frame)
	disCheckInvariants(t, frame, d)
	q = disMust(t, &d, "icmp.quote")
	if q.Severity != SeverityWarning || q.Find("icmp.quote.note") == nil || d.Problem != nil {
		t.Errorf("short quote %+v, problem %+v", *q, d.Problem)
	}
}

func TestDissectICMPEcho(t *testing.T) {
	d := Dissect(disFrames(t)["icmp_echo_request"])
	icmp := disMust(t, &d, "icmp")
	disWantRange(t, icmp, 34, 64)
	if id := disMust(t, &d, "icmp.id"); id.Value != "1" || id.Offset != 38 {
		t.Errorf("id %+v", *id)
	}
	if data := icmp.Find("data"); data == nil || data.Offset != 42 || data.Length != 56 {
		t.Errorf("echo data %+v", data)
	}
	if d.Summary != "IP 192.168.2.7 > 192.168.2.20: ICMP echo request, id 1, seq 2, length 64" {
		t.Errorf("summary %q", d.Summary)
	}
}

func TestDissectRecordRoute(t *testing.T) {
	d := Dissect(disFrames(t)["ipv4_record_route"])
	rr := disMust(t, &d, "ipv4.options.rr")
	disWantRange(t, rr, 34, 15)
	var routes []string
	for _, c := range rr.Children {
		if c.Name == "ipv4.options.route" {
			routes = append(routes, c.Label)
		}
	}
	want := []string{"Recorded Route: 10.0.0.1", "Empty Route: 0.0.0.0 <- (next)", "Empty Route: 0.0.0.0"}
	if fmt.Sprint(routes) != fmt.Sprint(want) {
		t.Errorf("routes %q, want %q", routes, want)
	}
	if p := rr.Find("ipv4.options.ptr"); p == nil || p.Value != "8" || p.Offset != 36 {
		t.Errorf("pointer %+v", p)
	}
	if ihl := disMust(t, &d, "ipv4.ihl"); ihl.Value != "9" {
		t.Errorf("ihl %q", ihl.Value)
	}
	disWantRange(t, disMust(t, &d, "icmp"), 50, 64)
}

func TestDissectFragments(t *testing.T) {
	frames := disFrames(t)
	d := Dissect(frames["fragment_first"])
	if got := disLayerNames(d); got != "ethernet ipv4 udp data" {
		t.Fatalf("first fragment layers %s", got)
	}
	if sum := disMust(t, &d, "udp.checksum"); !strings.Contains(sum.Label, "unverified") || sum.Severity != "" {
		t.Errorf("first fragment checksum %+v", *sum)
	}
	if d.Problem != nil || !strings.Contains(d.Info, "first fragment") {
		t.Errorf("problem %+v info %q", d.Problem, d.Info)
	}
	d = Dissect(frames["fragment_nonfirst"])
	if got := disLayerNames(d); got != "ethernet ipv4 data" {
		t.Fatalf("non-first fragment layers %s", got)
	}
	data := disMust(t, &d, "data")
	disWantRange(t, data, 34, 528)
	if n := data.Find("data.note"); n == nil || !strings.Contains(n.Label, "offset 480") {
		t.Errorf("fragment note %+v", n)
	}
	if d.Protocol != "IPv4" || !strings.Contains(d.Info, "offset 480") {
		t.Errorf("protocol %q info %q", d.Protocol, d.Info)
	}
}

func TestDissectUDP(t *testing.T) {
	d := Dissect(disFrames(t)["udp"])
	if got := disLayerNames(d); got != "ethernet ipv4 udp data padding" {
		t.Fatalf("layers %s", got)
	}
	if sum := disMust(t, &d, "udp.checksum"); !strings.Contains(sum.Label, "[correct]") {
		t.Errorf("checksum %q", sum.Label)
	}
	disWantRange(t, disMust(t, &d, "data"), 42, 13)
	if d.Summary != "IP 192.168.2.7.4000 > 192.168.2.20.53: UDP, length 13" || d.Info != "4000 > 53, length 13" {
		t.Errorf("summary %q info %q", d.Summary, d.Info)
	}

	// No checksum (RFC 768): shown as none, not as an error.
	frame := bytes.Clone(disFrames(t)["udp"])
	binary.BigEndian.PutUint16(frame[34+udpChecksum:], 0)
	d = Dissect(frame)
	if sum := disMust(t, &d, "udp.checksum"); !strings.Contains(sum.Label, "none") || sum.Severity != "" || strings.Contains(d.Info, "bad") {
		t.Errorf("zero checksum %+v, info %q", *sum, d.Info)
	}
}

func TestDissectBadChecksums(t *testing.T) {
	frames := disFrames(t)
	d := Dissect(frames["bad_ipv4_checksum"])
	sum := disMust(t, &d, "ipv4.checksum")
	good := IPv4(frames["udp"][EthernetHeaderLen:]).Checksum()
	if sum.Severity != SeverityError || !strings.Contains(sum.Label, fmt.Sprintf("incorrect, should be 0x%04x", good)) {
		t.Errorf("checksum %+v, want should be 0x%04x", *sum, good)
	}
	if d.Protocol != "UDP" || !strings.HasSuffix(d.Info, "[bad checksum]") || d.Problem != nil {
		t.Errorf("protocol %q info %q problem %+v", d.Protocol, d.Info, d.Problem)
	}

	frame := bytes.Clone(frames["tcp_data_sack"])
	frame[len(frame)-1] ^= 1 // a data byte: the TCP checksum no longer verifies
	d = Dissect(frame)
	if sum := disMust(t, &d, "tcp.checksum"); sum.Severity != SeverityError || !strings.Contains(sum.Label, "incorrect") {
		t.Errorf("tcp checksum %+v", *sum)
	}
	if !strings.HasSuffix(d.Info, "[bad checksum]") || d.Find("data") == nil {
		t.Errorf("info %q, layers %s", d.Info, disLayerNames(d))
	}

	frame = bytes.Clone(frames["icmp_echo_request"])
	frame[len(frame)-1] ^= 1
	d = Dissect(frame)
	if sum := disMust(t, &d, "icmp.checksum"); sum.Severity != SeverityError {
		t.Errorf("icmp checksum %+v", *sum)
	}
}

func TestDissectTruncatedTCP(t *testing.T) {
	d := Dissect(disFrames(t)["truncated_tcp"])
	if d.Problem == nil || d.Problem.Layer != "tcp" || d.Problem.Offset != 34+tcpAck {
		t.Fatalf("problem %+v", d.Problem)
	}
	tcp := disMust(t, &d, "tcp")
	disWantRange(t, tcp, 34, 10)
	if tcp.Severity != SeverityError || tcp.Find("tcp.seq") == nil || tcp.Find("tcp.ack") != nil {
		t.Errorf("tcp node %+v", *tcp)
	}
	if d.Protocol != "TCP" || !strings.HasPrefix(d.Info, "Truncated TCP: acknowledgment number") {
		t.Errorf("protocol %q info %q", d.Protocol, d.Info)
	}
	if got := disLayerNames(d); got != "ethernet ipv4 tcp padding" {
		t.Errorf("layers %s", got)
	}
}

func TestDissectUnknownEtherType(t *testing.T) {
	frame := disFrames(t)["unknown_ethertype"]
	d := Dissect(frame)
	if got := disLayerNames(d); got != "ethernet data" {
		t.Fatalf("layers %s", got)
	}
	disWantRange(t, disMust(t, &d, "data"), 14, 46)
	if ty := disMust(t, &d, "ethernet.type"); ty.Value != "0x88b5" || !strings.Contains(ty.Label, "Unknown") {
		t.Errorf("type %+v", *ty)
	}
	if d.Protocol != "Ethernet" || d.Info != "ethertype Unknown (0x88b5), length 60" || d.Problem != nil {
		t.Errorf("protocol %q info %q problem %+v", d.Protocol, d.Info, d.Problem)
	}
}

// TestDissectMalformed covers frames that stop dissection: each must name
// the failing layer and keep the invariants.
func TestDissectMalformed(t *testing.T) {
	frames := disFrames(t)
	ip := func(mod func(b []byte)) []byte {
		f := bytes.Clone(frames["udp"])
		mod(f[EthernetHeaderLen:])
		IPv4(f[EthernetHeaderLen:]).UpdateChecksum()
		return f
	}
	cases := []struct {
		name, layer string
		frame       []byte
	}{
		{"empty", "ethernet", nil},
		{"short ethernet", "ethernet", frames["udp"][:9]},
		{"802.3 length", "ethernet", func() []byte {
			f := disEthFrame(t, disMACA, disMACB, EtherTypeIPv4, disPattern(46))
			binary.BigEndian.PutUint16(f[ethType:], 46)
			return f
		}()},
		{"arp op 9", "arp", func() []byte {
			f := bytes.Clone(frames["arp_request"])
			f[EthernetHeaderLen+arpOp+1] = 9
			return f
		}()},
		{"arp truncated", "arp", frames["arp_request"][:30]},
		{"ipv4 version 6", "ipv4", ip(func(b []byte) { b[0] = 0x65 })},
		{"ipv4 ihl 3", "ipv4", ip(func(b []byte) { b[0] = 0x43 })},
		{"ipv4 total length too big", "ipv4", ip(func(b []byte) { binary.BigEndian.PutUint16(b[ipv4TotalLen:], 500) })},
		{"ipv4 bad option length", "ipv4", func() []byte {
			h := disIPHeader(ProtoUDP)
			h.Options = []IPv4Option{RouterAlertOption(0)}
			f := disIPv4Frame(t, h, disUDPBytes(t, 1, 2, nil, disIPA, disIPB))
			f[EthernetHeaderLen+ipv4Options+1] = 9
			return f
		}()},
		{"udp length short", "udp", ip(func(b []byte) { binary.BigEndian.PutUint16(b[20+udpLength:], 4) })},
		{"tcp bad option", "tcp", func() []byte {
			f := bytes.Clone(frames["tcp_syn_options"])
			f[34+tcpOptionsOffset+1] = 5 // MSS length 5
			return f
		}()},
		{"icmp truncated", "icmp", func() []byte {
			h := disIPHeader(ProtoICMP)
			return disIPv4Frame(t, h, []byte{8, 0, 0})
		}()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Dissect(c.frame)
			disCheckInvariants(t, c.frame, d)
			if d.Problem == nil || d.Problem.Layer != c.layer {
				t.Fatalf("problem %+v, want layer %s", d.Problem, c.layer)
			}
			var layer *Field
			for i := range d.Layers {
				if d.Layers[i].Name == c.layer {
					layer = &d.Layers[i]
				}
			}
			if layer.Severity != SeverityError || layer.Find(c.layer+".problem") == nil {
				t.Errorf("failing layer not marked: %+v", *layer)
			}
		})
	}
}

func TestDissectIPv4Timestamp(t *testing.T) {
	h := disIPHeader(ProtoUDP)
	ts, err := TimestampPrespecifiedOption(disIPA, disIPB)
	if err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint32(ts.Data[2+4:], 5000) // A has recorded
	ts.Data[0] = 13
	h.Options = []IPv4Option{NOPOption(), ts}
	frame := disIPv4Frame(t, h, disUDPBytes(t, 1, 2, nil, disIPA, disIPB))
	d := Dissect(frame)
	disCheckInvariants(t, frame, d)
	opt := disMust(t, &d, "ipv4.options.ts")
	disWantRange(t, opt, 35, 20)
	if fl := opt.Find("ipv4.options.ts.flag"); fl == nil || fl.Mask != 0x0f || fl.Value != "3" {
		t.Errorf("flag %+v", fl)
	}
	var entries []string
	for _, c := range opt.Children {
		if c.Name == "ipv4.options.ts.entry" {
			entries = append(entries, c.Label)
		}
	}
	want := []string{"Address 192.168.2.7, timestamp 5000 ms", "Address 192.168.2.20, timestamp 0 ms (empty)"}
	if fmt.Sprint(entries) != fmt.Sprint(want) {
		t.Errorf("entries %q, want %q", entries, want)
	}
	if nop := disMust(t, &d, "ipv4.options.nop"); nop.Offset != 34 {
		t.Errorf("nop %+v", *nop)
	}
}

func TestDissectAllocsBounded(t *testing.T) {
	// The worst case: option areas full of NOPs in an IPv4 header and in a
	// TCP header, the largest trees Dissect builds.
	h := disIPHeader(ProtoTCP)
	for range 40 {
		h.Options = append(h.Options, NOPOption())
	}
	seg := disTCPBytes(t, TCPHeader{SrcPort: 1, DstPort: 2, Flags: TCPFlagACK}, disPattern(1000))
	seg[tcpDataOffset] = 15 << 4
	for i := TCPMinHeaderLen; i < TCPMaxHeaderLen; i++ {
		seg[i] = byte(TCPOptionNOP)
	}
	frame := disIPv4Frame(t, h, seg)
	allocs := testing.AllocsPerRun(20, func() { Dissect(frame) })
	if allocs > 2500 {
		t.Errorf("%v allocations for a worst-case frame", allocs)
	}
	t.Logf("%v allocations for a worst-case frame", allocs)
}

func BenchmarkDissectTCP(b *testing.B) {
	frame := disFrames(b)["tcp_data_sack"]
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		Dissect(frame)
	}
}
