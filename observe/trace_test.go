package observe

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"testing"
)

func testHeader() TraceHeader {
	return TraceHeader{
		Seed: 42,
		Mode: "lab",
		Hosts: []HostInfo{
			{Name: "tipy", MAC: "02:00:00:00:00:07", Addresses: []string{"192.168.2.7/24"}, Gateway: "192.168.2.1", MTU: 1500, Link: "lan/tipy"},
			{Name: "peer", MAC: "02:00:00:00:00:14", Addresses: []string{"192.168.2.20/24"}, MTU: 1500, Link: "lan/peer"},
		},
		Note: "test <run> & more",
	}
}

// publishSample publishes a deterministic mix of events covering every
// field and the awkward values: integers beyond float64 precision, floats,
// nested values, HTML characters, invalid UTF-8, frames.
func publishSample(b *Bus, n int) {
	for i := 0; i < n; i++ {
		frame := make([]byte, 60+i%40)
		for k := range frame {
			frame[k] = byte(i + k)
		}
		e := Event{
			TimeNS:  int64(i) * 1_000_123,
			Host:    []string{"tipy", "peer"}[i%2],
			Layer:   Layers[i%len(Layers)],
			Kind:    []Kind{KindRX, KindTX, KindDrop, KindState, KindSample}[i%5],
			Summary: fmt.Sprintf("segment %d <SYN> & \u2028 ok", i),
			Conn:    "192.168.2.7:80-192.168.2.20:40000",
			Explain: "because RFC says so",
			RFC:     "RFC 9293 §3.10.7.4",
			Reason:  "bad_checksum",
			Fields: map[string]any{
				"big":    uint64(math.MaxUint64 - uint64(i)),
				"neg":    -i,
				"rtt":    0.1 + float64(i)/3,
				"name":   "x\xffy", // invalid UTF-8
				"list":   []any{1, "two", 3.5, nil, true},
				"nested": map[string]any{"z": 1, "a": []int{1, 2}},
			},
			Frame: frame,
		}
		if i%7 == 0 {
			e.Fields, e.Frame, e.Conn = nil, nil, ""
		}
		b.Publish(e)
	}
}

func recordSample(t *testing.T, n int) []byte {
	t.Helper()
	b := NewBus(BusOptions{})
	var buf bytes.Buffer
	r, err := NewRecorder(b, &buf, testHeader(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	publishSample(b, n)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if r.Count() != uint64(n) || r.Missed() != 0 {
		t.Fatalf("Count %d Missed %d, want %d, 0", r.Count(), r.Missed(), n)
	}
	return buf.Bytes()
}

func TestRecordReadRewrite(t *testing.T) {
	const n = 500
	trace := recordSample(t, n)
	lines := bytes.Split(bytes.TrimSuffix(trace, []byte("\n")), []byte("\n"))
	if len(lines) != n+1 {
		t.Fatalf("trace has %d lines, want %d", len(lines), n+1)
	}
	if !bytes.HasPrefix(lines[0], []byte(`{"format":"tipy-trace","version":1,"seed":42,"hosts":[`)) {
		t.Fatalf("header line %s", lines[0])
	}
	if !bytes.Contains(lines[2], []byte(`"summary":"segment 1 <SYN> & \u2028 ok"`)) {
		t.Fatalf("summary not written readably (no HTML escaping): %s", lines[2])
	}

	r, err := NewReader(bytes.NewReader(trace))
	if err != nil {
		t.Fatal(err)
	}
	h := r.Header()
	if h.Format != TraceFormat || h.Version != 1 || h.Seed != 42 || len(h.Hosts) != 2 || h.Hosts[0].Addresses[0] != "192.168.2.7/24" || h.Mode != "lab" || h.Note != testHeader().Note {
		t.Fatalf("header = %+v", h)
	}
	events, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != n {
		t.Fatalf("read %d events, want %d", len(events), n)
	}
	e := events[1]
	if e.Seq != 2 || e.Host != "peer" || e.Layer != LayerARP || e.Kind != KindTX || e.TimeNS != 1_000_123 || len(e.Frame) != 61 || e.Frame[60] != 61 {
		t.Fatalf("event 2 = %+v", e)
	}
	if big, ok := FieldUint(&e, "big"); !ok || big != math.MaxUint64-1 {
		t.Fatalf("big field = %v (%T)", e.Fields["big"], e.Fields["big"])
	}
	if rtt, err := e.Fields["rtt"].(json.Number).Float64(); err != nil || rtt != 0.1+1.0/3 {
		t.Fatalf("rtt = %v, %v", rtt, err)
	}
	if e.Fields["name"] != "x\uFFFDy" {
		t.Fatalf("invalid UTF-8 field read back as %q", e.Fields["name"])
	}

	var again bytes.Buffer
	if err := WriteTrace(&again, h, events); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), trace) {
		a, b := again.Bytes(), trace
		i := 0
		for i < len(a) && i < len(b) && a[i] == b[i] {
			i++
		}
		t.Fatalf("rewritten trace differs at byte %d:\n got  %.120q\n want %.120q", i, a[i:], b[i:])
	}
}

func TestRecordingIsDeterministic(t *testing.T) {
	if a, b := recordSample(t, 300), recordSample(t, 300); !bytes.Equal(a, b) {
		t.Fatal("two identical runs gave different traces")
	}
}

func TestRecorderFilterAndCloseWritesEverything(t *testing.T) {
	b := NewBus(BusOptions{})
	var buf bytes.Buffer
	r, err := NewRecorder(b, &buf, testHeader(), Filter{Kinds: []Kind{KindDrop}})
	if err != nil {
		t.Fatal(err)
	}
	if !b.Active() {
		t.Fatal("a recorder does not make the bus active")
	}
	const n = 40_000
	for i := 0; i < n; i++ {
		kind := KindTX
		if i%2 == 1 {
			kind = KindDrop
		}
		b.Publish(Event{Kind: kind, Summary: "x"})
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	if b.Active() {
		t.Fatal("bus still active after the recorder closed")
	}
	b.Publish(Event{Kind: KindDrop}) // after Close: not recorded
	tr, err := NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	events, err := tr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != n/2 || r.Count() != n/2 {
		t.Fatalf("recorded %d events (Count %d), want %d", len(events), r.Count(), n/2)
	}
	for i, e := range events {
		if e.Kind != KindDrop || e.Seq != uint64(2*i+2) {
			t.Fatalf("event %d = %+v", i, e)
		}
	}
}

// gateWriter blocks writes until released.
type gateWriter struct {
	w       io.Writer
	release chan struct{}
	once    sync.Once
	entered chan struct{}
}

func (g *gateWriter) Write(p []byte) (int, error) {
	g.once.Do(func() { close(g.entered) })
	<-g.release
	return g.w.Write(p)
}

func TestRecorderWritesGap(t *testing.T) {
	b := NewBus(BusOptions{})
	var buf bytes.Buffer
	g := &gateWriter{w: &buf, release: make(chan struct{}), entered: make(chan struct{})}
	close(g.release) // the header goes through
	r, err := NewRecorder(b, g, testHeader(), Filter{}, RecorderQueue(4))
	if err != nil {
		t.Fatal(err)
	}
	g.release = make(chan struct{})
	g.once, g.entered = sync.Once{}, make(chan struct{})
	// The first event is written and flushed while the writer is blocked...
	b.Publish(Event{Kind: KindTX})
	<-g.entered
	// ...so these pile up: 4 queued, the rest missed.
	const n = 100
	for i := 0; i < n; i++ {
		b.Publish(Event{Kind: KindTX})
	}
	close(g.release)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	tr, err := NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	events, err := tr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1+4+1 {
		t.Fatalf("trace holds %d events: %v", len(events), seqs(events))
	}
	gap := events[5]
	if gap.Kind != KindGap || mustUint(t, gap, "missed") != n-4 || r.Missed() != n-4 {
		t.Fatalf("gap = %+v, Missed %d, want %d missed", gap, r.Missed(), n-4)
	}
}

type failWriter struct {
	ok  int // writes that succeed
	err error
}

func (f *failWriter) Write(p []byte) (int, error) {
	if f.ok == 0 {
		return 0, f.err
	}
	f.ok--
	return len(p), nil
}

func TestRecorderWriteErrors(t *testing.T) {
	b := NewBus(BusOptions{})
	boom := errors.New("disk full")
	if _, err := NewRecorder(b, &failWriter{err: boom}, testHeader(), Filter{}); !errors.Is(err, boom) {
		t.Fatalf("header write error = %v", err)
	}
	if b.Active() {
		t.Fatal("a failed recorder left a subscription")
	}
	r, err := NewRecorder(b, &failWriter{ok: 1, err: boom}, testHeader(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	b.Publish(Event{Kind: KindTX})
	if err := r.Close(); !errors.Is(err, boom) {
		t.Fatalf("Close = %v, want the write error", err)
	}
}

func TestUnencodableFieldDoesNotStopRecording(t *testing.T) {
	b := NewBus(BusOptions{})
	var buf bytes.Buffer
	r, _ := NewRecorder(b, &buf, testHeader(), Filter{})
	b.Publish(Event{Kind: KindSample, Fields: map[string]any{"rtt": math.NaN()}})
	b.Publish(Event{Kind: KindTX})
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	tr, _ := NewReader(&buf)
	events, err := tr.ReadAll()
	if err != nil || len(events) != 2 {
		t.Fatalf("events %+v, err %v", events, err)
	}
	if note, _ := events[0].Fields["unencodable"].(string); !strings.Contains(note, "NaN") {
		t.Fatalf("unencodable event = %+v", events[0])
	}
}

const okHeader = `{"format":"tipy-trace","version":1,"seed":1,"hosts":[]}` + "\n"

func TestReaderHeaderErrors(t *testing.T) {
	cases := []struct {
		name, in string
		is       error
		msg      string
	}{
		{"empty", "", ErrNotTrace, "not a tipy trace (empty input)"},
		{"other format", `{"format":"pcapng","version":1}` + "\n", ErrNotTrace, `not a tipy trace (format "pcapng")`},
		{"no format", `{"version":1}` + "\n", ErrNotTrace, `not a tipy trace (format "")`},
		{"too new", `{"format":"tipy-trace","version":2,"seed":1}` + "\n", ErrTraceVersion, "trace version 2 is newer than this tipy reads (1)"},
		{"version 0", `{"format":"tipy-trace","version":0}` + "\n", ErrMalformedLine, "trace line 1: invalid trace version 0"},
		{"binary", "\x0a\x0d\x0d\x0a\x1c\x00\x00\x00", ErrMalformedLine, "trace line 1: malformed header"},
		{"not an object", "[1,2]\n", ErrMalformedLine, "trace line 1: malformed header"},
		{"cut header", `{"format":"tipy-tr`, ErrMalformedLine, "trace line 1: malformed header"},
	}
	for _, c := range cases {
		_, err := NewReader(strings.NewReader(c.in))
		if !errors.Is(err, c.is) || !strings.HasPrefix(fmt.Sprint(err), c.msg) {
			t.Errorf("%s: err = %v, want %v starting %q", c.name, err, c.is, c.msg)
		}
	}
	if _, err := NewReader(strings.NewReader(okHeader)); err != nil {
		t.Fatalf("minimal header: %v", err)
	}
	// Unknown header fields of version 1 are tolerated.
	if _, err := NewReader(strings.NewReader(`{"format":"tipy-trace","version":1,"future":true}`)); err != nil {
		t.Fatalf("header with an extra field: %v", err)
	}
}

func TestReaderLineErrors(t *testing.T) {
	in := okHeader +
		`{"seq":1,"t_ns":5,"host":"a","layer":"tcp","kind":"rx","summary":"one"}` + "\n" +
		"\n" + // blank: skipped
		`{"seq":2,"t_ns":6,` + "\n" + // line 4: malformed
		`{"seq":3,"t_ns":7,"host":"a","layer":"tcp","kind":"rx","summary":"three"} x` + "\n" + // line 5: trailing garbage
		`{"seq":4,"t_ns":8,"host":"a","layer":"tcp","kind":"rx","summary":"four"}` + "\n" +
		`{"seq":5,"t_ns":9,"host":"a","la` // line 7: cut short
	r, err := NewReader(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	expect := func(seq uint64) {
		t.Helper()
		e, err := r.Next()
		if err != nil || e.Seq != seq {
			t.Fatalf("Next = %+v, %v; want seq %d", e, err, seq)
		}
	}
	expectErr := func(line int, is error) {
		t.Helper()
		_, err := r.Next()
		var te *TraceError
		if !errors.As(err, &te) || te.Line != line || !errors.Is(err, is) || !strings.HasPrefix(err.Error(), fmt.Sprintf("trace line %d: ", line)) {
			t.Fatalf("Next = %v, want a %v error on line %d", err, is, line)
		}
		t.Log(err)
	}
	expect(1)
	expectErr(4, ErrMalformedLine)
	expectErr(5, ErrMalformedLine)
	expect(4)
	expectErr(7, ErrTruncatedLine)
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the last line: %v, want io.EOF", err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("again after the last line: %v, want io.EOF", err)
	}

	// A complete last line without a newline is fine.
	r, _ = NewReader(strings.NewReader(okHeader + `{"seq":9,"kind":"rx"}`))
	events, err := r.ReadAll()
	if err != nil || len(events) != 1 || events[0].Seq != 9 {
		t.Fatalf("last line without newline: %+v, %v", events, err)
	}
	// ReadAll stops at an error and returns what it read before.
	r, _ = NewReader(strings.NewReader(okHeader + `{"seq":1}` + "\n" + `{"seq":` + "\n" + `{"seq":3}` + "\n"))
	events, err = r.ReadAll()
	if !errors.Is(err, ErrMalformedLine) || len(events) != 1 {
		t.Fatalf("ReadAll = %d events, %v", len(events), err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestReaderIOError(t *testing.T) {
	boom := errors.New("device gone")
	r, err := NewReader(io.MultiReader(strings.NewReader(okHeader), errReader{boom}))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := r.Next(); !errors.Is(err, boom) {
			t.Fatalf("Next %d = %v, want the I/O error", i, err)
		}
	}
	if _, err := NewReader(errReader{boom}); !errors.Is(err, boom) {
		t.Fatalf("NewReader on a failing reader = %v", err)
	}
}

func TestHugeFrames(t *testing.T) {
	big := make([]byte, 3<<20) // 3 MiB: 4 MiB of base64, far over the bufio and JSON buffer sizes
	for i := range big {
		big[i] = byte(i * 7)
	}
	var buf bytes.Buffer
	events := []Event{{Seq: 1, Kind: KindRX, Frame: big}, {Seq: 2, Kind: KindTX}}
	if err := WriteTrace(&buf, testHeader(), events); err != nil {
		t.Fatal(err)
	}
	// A line over the limit, between two good ones.
	tooBig := io.MultiReader(strings.NewReader(`{"seq":3,"kind":"rx","summary":"`),
		io.LimitReader(repeatReader('x'), MaxTraceLine), strings.NewReader(`"}`+"\n"+`{"seq":4,"kind":"tx"}`+"\n"))
	r, err := NewReader(io.MultiReader(&buf, tooBig))
	if err != nil {
		t.Fatal(err)
	}
	e, err := r.Next()
	if err != nil || !bytes.Equal(e.Frame, big) {
		t.Fatalf("huge frame did not round-trip: %v", err)
	}
	if e, err := r.Next(); err != nil || e.Seq != 2 {
		t.Fatalf("after the huge frame: %+v, %v", e, err)
	}
	if _, err := r.Next(); !errors.Is(err, ErrMalformedLine) || !strings.Contains(err.Error(), "trace line 4: longer than") {
		t.Fatalf("over-long line: %v", err)
	}
	if e, err := r.Next(); err != nil || e.Seq != 4 {
		t.Fatalf("after the over-long line: %+v, %v", e, err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}

}

// repeatReader is an endless stream of one byte.
type repeatReader byte

func (c repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

// TestLineLimitBoundary checks the line limit to the byte, with a small
// limit so that it runs fast (TestHugeFrames checks the real one).
func TestLineLimitBoundary(t *testing.T) {
	const limit = 1000
	pad := limit - len(`{"seq":5,"summary":""}`)
	exact := `{"seq":5,"summary":"` + strings.Repeat("y", pad) + `"}`
	open := func(body string) *Reader {
		r, err := NewReader(strings.NewReader(okHeader + body))
		if err != nil {
			t.Fatal(err)
		}
		r.max = limit
		return r
	}
	for _, tail := range []string{"\n", "", "\n  \n"} {
		if e, err := open(exact + tail).Next(); err != nil || e.Seq != 5 {
			t.Fatalf("line of exactly the limit (tail %q): %v", tail, err)
		}
	}
	for _, over := range []string{exact + " ", exact + " \n", " " + exact + "\n" + `{"seq":6}`} {
		r := open(over)
		if _, err := r.Next(); !errors.Is(err, ErrMalformedLine) || !strings.Contains(err.Error(), "trace line 2: longer than 1000 bytes") {
			t.Fatalf("line of limit+1 bytes: %v", err)
		}
		e, err := r.Next()
		if strings.HasSuffix(over, "}") && (err != nil || e.Seq != 6) || !strings.HasSuffix(over, "}") && err != io.EOF {
			t.Fatalf("after an over-long line: %+v, %v", e, err)
		}
	}
}

func TestWriteTraceSetsFormat(t *testing.T) {
	var buf bytes.Buffer
	h := TraceHeader{Format: "other", Version: 7}
	if err := WriteTrace(&buf, h, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), `{"format":"tipy-trace","version":1,"seed":0,"hosts":[]}`+"\n"; got != want {
		t.Fatalf("WriteTrace wrote %q, want %q", got, want)
	}
}
