package observe

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// Reader reads a trace file: the header at once (NewReader), then one event
// per call to Next.
//
// Numbers in an event's Fields come back as json.Number, not float64, so
// that no integer loses precision and a trace read and written again with
// WriteTrace is identical, byte for byte. Use its Int64 or Float64 method, or
// [FieldUint]. Nested objects come back as map[string]any (a struct value
// written by a publisher reads back as a map, with its keys then sorted).
type Reader struct {
	br     *bufio.Reader
	header TraceHeader
	line   int    // number of the last line read
	buf    []byte // the current line
	max    int    // longest line accepted: MaxTraceLine (smaller in tests)
	err    error  // sticky I/O error
}

// NewReader reads and checks the header of the trace in r. It fails with
// an error wrapping ErrNotTrace when r is empty or holds another format,
// ErrTraceVersion when the trace is newer than TraceVersion, and
// ErrMalformedLine when the first line is not a JSON header.
func NewReader(r io.Reader) (*Reader, error) {
	tr := &Reader{br: bufio.NewReaderSize(r, 64<<10), max: MaxTraceLine}
	line, err := tr.readLine()
	if err == io.EOF {
		return nil, &TraceError{Reason: "not a tipy trace (empty input)", Kind: ErrNotTrace}
	}
	if err != nil {
		return nil, err
	}
	var h TraceHeader
	if err := decodeLine(line, &h); err != nil {
		return nil, &TraceError{Line: 1, Reason: "malformed header: " + err.Error(), Kind: ErrMalformedLine, Err: err}
	}
	if h.Format != TraceFormat {
		return nil, &TraceError{Reason: fmt.Sprintf("not a tipy trace (format %q)", h.Format), Kind: ErrNotTrace}
	}
	if h.Version > TraceVersion {
		return nil, &TraceError{
			Reason: fmt.Sprintf("trace version %d is newer than this tipy reads (%d)", h.Version, TraceVersion),
			Kind:   ErrTraceVersion,
		}
	}
	if h.Version < 1 {
		return nil, &TraceError{Line: 1, Reason: fmt.Sprintf("invalid trace version %d", h.Version), Kind: ErrMalformedLine}
	}
	tr.header = h
	return tr, nil
}

// Header returns the trace's header.
func (r *Reader) Header() TraceHeader { return r.header }

// Line returns the number of the line last read (1 is the header).
func (r *Reader) Line() int { return r.line }

// Next returns the next event, or io.EOF after the last. A line that is not
// an event gives a *TraceError naming it (wrapping ErrMalformedLine, or
// ErrTruncatedLine for a last line cut short); calling Next again goes on
// with the following line. Blank lines are skipped. Errors reading the
// underlying reader are returned as they are, and again on every call.
func (r *Reader) Next() (Event, error) {
	for {
		line, err := r.readLine()
		if err != nil {
			return Event{}, err
		}
		complete := len(line) > 0 && line[len(line)-1] == '\n'
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var e Event
		if err := decodeLine(line, &e); err != nil {
			if !complete {
				return Event{}, &TraceError{Line: r.line, Reason: "the trace ends in the middle of this line: " + err.Error(),
					Kind: ErrTruncatedLine, Err: err}
			}
			return Event{}, &TraceError{Line: r.line, Reason: "malformed event: " + err.Error(), Kind: ErrMalformedLine, Err: err}
		}
		return e, nil
	}
}

// ReadAll reads the events up to the end of the trace. On an error it
// returns the events read before it, and the error.
func (r *Reader) ReadAll() ([]Event, error) {
	var events []Event
	for {
		e, err := r.Next()
		if err == io.EOF {
			return events, nil
		}
		if err != nil {
			return events, err
		}
		events = append(events, e)
	}
}

// readLine returns the next line, with its newline if it has one; io.EOF
// when there are no more. A line longer than MaxTraceLine is skipped and
// reported.
func (r *Reader) readLine() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	r.buf = r.buf[:0]
	tooLong := false
	for {
		chunk, err := r.br.ReadSlice('\n')
		if !tooLong {
			if len(r.buf)+len(chunk) > r.max+1 { // +1: the newline
				tooLong = true
				r.buf = r.buf[:0]
			} else {
				r.buf = append(r.buf, chunk...)
			}
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF:
			if len(r.buf) == 0 && !tooLong {
				return nil, io.EOF
			}
		case err != nil:
			r.err = err
			return nil, err
		}
		r.line++
		// The second test: max+1 bytes at the end of the input, without a newline.
		if tooLong || len(r.buf) > r.max && r.buf[len(r.buf)-1] != '\n' {
			return nil, &TraceError{Line: r.line, Reason: fmt.Sprintf("longer than %d bytes", r.max), Kind: ErrMalformedLine}
		}
		return r.buf, nil
	}
}

// decodeLine decodes one JSON value from line into v, numbers as
// json.Number, and insists that nothing but blanks follows it.
func decodeLine(line []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	if rest := bytes.TrimSpace(line[dec.InputOffset():]); len(rest) > 0 {
		return fmt.Errorf("unexpected %q after the JSON value", truncate(rest, 20))
	}
	return nil
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// FieldUint returns e.Fields[name] as an unsigned integer, whether it holds
// a Go integer (an event from a Bus) or a json.Number (an event from a
// Reader). It reports false when the field is absent or not such a number.
func FieldUint(e *Event, name string) (uint64, bool) {
	switch v := e.Fields[name].(type) {
	case uint64:
		return v, true
	case int:
		return uint64(v), v >= 0
	case int64:
		return uint64(v), v >= 0
	case uint32:
		return uint64(v), true
	case uint:
		return uint64(v), true
	case json.Number:
		u, err := strconv.ParseUint(string(v), 10, 64)
		return u, err == nil
	case float64:
		if v >= 0 && v == float64(uint64(v)) {
			return uint64(v), true
		}
	}
	return 0, false
}
