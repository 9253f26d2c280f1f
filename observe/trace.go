package observe

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// The trace file format (see the contracts): JSON Lines, a header line, then
// one event per line.
const (
	// TraceFormat is the header's "format".
	TraceFormat = "tipy-trace"
	// TraceVersion is the trace version this package writes and the newest
	// it reads.
	TraceVersion = 1
	// MaxTraceLine is the longest line a Reader accepts, newline excluded.
	MaxTraceLine = 16 << 20
)

// Errors of trace files; the errors a Reader returns wrap one of them.
var (
	// ErrNotTrace: the input is not a tipy trace (empty, or another format).
	ErrNotTrace = errors.New("not a tipy trace")
	// ErrTraceVersion: the trace is of a version newer than this package reads.
	ErrTraceVersion = errors.New("unsupported trace version")
	// ErrMalformedLine: a line is not the JSON it should be, or is too long.
	ErrMalformedLine = errors.New("malformed trace line")
	// ErrTruncatedLine: the input ends in the middle of a line, as a trace
	// whose writer was interrupted does. It also matches ErrMalformedLine.
	ErrTruncatedLine = errors.New("trace ends in the middle of a line")
)

// TraceHeader is the first line of a trace file. It carries no wall-clock
// time, so that two runs of a seeded virtual lab give byte-identical files.
type TraceHeader struct {
	Format  string     `json:"format"`         // TraceFormat
	Version int        `json:"version"`        // TraceVersion
	Seed    uint64     `json:"seed"`           // the seed of every random choice
	Hosts   []HostInfo `json:"hosts"`          // the hosts and their configuration
	Mode    string     `json:"mode,omitempty"` // "lab", "tap", ...
	Note    string     `json:"note,omitempty"` // free text, e.g. what was recorded and why
}

// HostInfo is one host's configuration, as a trace header records it.
type HostInfo struct {
	Name      string   `json:"name"`
	MAC       string   `json:"mac"`               // "02:00:00:00:00:07"
	Addresses []string `json:"addresses"`         // with prefixes, "192.168.2.7/24"
	Gateway   string   `json:"gateway,omitempty"` // default gateway, if any
	MTU       int      `json:"mtu"`               // link MTU
	Link      string   `json:"link,omitempty"`    // the link's name
}

// TraceError is a problem with a trace file, with the line it is on (1 is
// the header; 0 when the problem is not one line's). It wraps one of the
// ErrNotTrace, ErrTraceVersion, ErrMalformedLine, ErrTruncatedLine sentinels
// and, where there is one, the underlying decoding or I/O error.
type TraceError struct {
	Line   int
	Reason string
	Kind   error // the sentinel
	Err    error // the cause, or nil
}

// Error says what is wrong, and on which line.
func (e *TraceError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("trace line %d: %s", e.Line, e.Reason)
	}
	return e.Reason
}

// Unwrap returns the sentinel and the cause, for errors.Is and errors.As.
func (e *TraceError) Unwrap() []error {
	errs := []error{e.Kind}
	if e.Kind == ErrTruncatedLine {
		errs = append(errs, ErrMalformedLine)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// WriteTrace writes a whole trace: h (its Format and Version are set to
// this package's) and then events, each as it is, Seq included.
func WriteTrace(w io.Writer, h TraceHeader, events []Event) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := newLineEncoder(bw)
	if err := enc.header(h); err != nil {
		return err
	}
	for i := range events {
		if err := enc.event(&events[i]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// lineEncoder writes trace lines. Strings are written without HTML escaping,
// which keeps a trace readable; the Recorder and WriteTrace share it so that
// a trace read and written again is the same, byte for byte.
type lineEncoder struct {
	w    *bufio.Writer
	buf  bytes.Buffer
	enc  *json.Encoder
	line []byte // an event's line, written by appendEventJSON
}

func newLineEncoder(w *bufio.Writer) *lineEncoder {
	l := &lineEncoder{w: w}
	l.enc = json.NewEncoder(&l.buf)
	l.enc.SetEscapeHTML(false)
	return l
}

func (l *lineEncoder) header(h TraceHeader) error {
	h.Format, h.Version = TraceFormat, TraceVersion
	if h.Hosts == nil {
		h.Hosts = []HostInfo{}
	}
	l.buf.Reset()
	if err := l.enc.Encode(h); err != nil {
		return fmt.Errorf("trace header: %w", err)
	}
	_, err := l.w.Write(l.buf.Bytes())
	return err
}

// event writes e as one line. Invalid UTF-8 in its strings becomes U+FFFD
// (as encoding/json would do, but spelled so that a rewrite is identical).
// Fields that JSON cannot carry (a NaN, a channel) are replaced by a note,
// so that one odd event never ends a recording. The error is the writer's.
//
// The line is what an Encoder without HTML escaping writes, written by
// appendEventJSON without reflection: a recording takes every event.
func (l *lineEncoder) event(e *Event) error {
	c := sanitize(e)
	line, err := appendEventJSON(l.line[:0], c, false)
	if err != nil {
		c2 := *c
		c2.Fields = map[string]any{"unencodable": err.Error()}
		if line, err = appendEventJSON(l.line[:0], &c2, false); err != nil {
			return fmt.Errorf("trace event %d: %w", e.Seq, err)
		}
	}
	line = append(line, '\n')
	if cap(line) <= maxKeptLine {
		l.line = line
	}
	_, err = l.w.Write(line)
	return err
}

// maxKeptLine is the largest line buffer a lineEncoder keeps between
// events.
const maxKeptLine = 1 << 20

// sanitize returns e, or a copy of it whose strings (and top-level string
// field values) are valid UTF-8.
func sanitize(e *Event) *Event {
	strs := [...]*string{&e.Host, (*string)(&e.Layer), (*string)(&e.Kind), &e.Summary, &e.Conn, &e.Explain, &e.RFC, &e.Reason}
	bad := false
	for _, s := range strs {
		bad = bad || !utf8.ValidString(*s)
	}
	for k, v := range e.Fields {
		s, _ := v.(string)
		bad = bad || !utf8.ValidString(k) || !utf8.ValidString(s)
	}
	if !bad {
		return e
	}
	c := *e
	for _, s := range [...]*string{&c.Host, (*string)(&c.Layer), (*string)(&c.Kind), &c.Summary, &c.Conn, &c.Explain, &c.RFC, &c.Reason} {
		*s = validUTF8(*s)
	}
	if c.Fields != nil {
		c.Fields = make(map[string]any, len(e.Fields))
		for k, v := range e.Fields {
			if s, ok := v.(string); ok {
				v = validUTF8(s)
			}
			c.Fields[validUTF8(k)] = v
		}
	}
	return &c
}

func validUTF8(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
