package web

import (
	"io"
	"slices"
	"strconv"

	"github.com/tipy/tipy/observe"
)

// batchEncoder turns a batch of events into one message of the event
// stream: a JSON array of StreamEvents, frames stripped (and kept in the
// frame store), samples coalesced to the latest of each series. The bytes
// are those encoding/json.Marshal makes of the []StreamEvent (but for an
// event JSON cannot carry, see appendStreamEvent), written by
// observe.Event.AppendJSON without reflection, and handed to the writer in
// pieces of about flushAt bytes (a WebSocket message writer sends each as
// a frame of the message), so that the buffer stays small enough to stay
// in the processor's cache while the stack runs beside it. The encoder
// keeps its buffers from one batch to the next: a stream at full pace
// makes almost no garbage. One goroutine uses it.
type batchEncoder struct {
	keep   []bool         // per event of the batch: goes in the message
	series []int32        // per event: the index in counts of a sample's series
	counts []int          // per series: the samples merged into its latest
	index  map[string]int // series key → index in counts
	key    []byte         // scratch for a series key
	names  []string       // scratch for the field names of a sample
	msg    []byte         // the piece of the message being written
}

// flushAt is the size of the pieces a message is written in.
const flushAt = 32 << 10

// maxKeptBuffer is the largest buffer kept between batches; a larger one
// (an event with huge fields) is given back to the collector.
const maxKeptBuffer = 1 << 20

// encode writes the message for evs to w, in pieces, and returns how many
// events it carries and how many samples were merged away. Each kept
// event with a frame is handed to keepFrame first. The error is w's.
func (b *batchEncoder) encode(w io.Writer, evs []observe.Event, keepFrame func(observe.Event)) (sent, merged int, err error) {
	n := len(evs)
	b.keep = slices.Grow(b.keep[:0], n)[:n]
	b.series = slices.Grow(b.series[:0], n)[:n]
	b.counts = b.counts[:0]
	if b.index == nil {
		b.index = map[string]int{}
	}
	clear(b.index)
	// Backwards: the latest sample of each series is kept, and counts the
	// earlier ones it replaces.
	for i := n - 1; i >= 0; i-- {
		e := &evs[i]
		if e.Kind != observe.KindSample {
			b.keep[i] = true
			continue
		}
		b.key = b.seriesKey(b.key[:0], e)
		if k, seen := b.index[string(b.key)]; seen {
			b.counts[k]++
			b.keep[i] = false
			merged++
			continue
		}
		b.index[string(b.key)] = len(b.counts)
		b.series[i] = int32(len(b.counts))
		b.counts = append(b.counts, 0)
		b.keep[i] = true
	}
	if cap(b.msg) > maxKeptBuffer {
		b.msg = nil
	}
	m := append(b.msg[:0], '[')
	for i := range evs {
		if !b.keep[i] {
			continue
		}
		e := evs[i]
		if len(e.Frame) > 0 {
			keepFrame(e)
		}
		coalesced := 0
		if e.Kind == observe.KindSample {
			coalesced = b.counts[b.series[i]]
		}
		if sent > 0 {
			m = append(m, ',')
		}
		m = appendStreamEvent(m, &e, coalesced)
		sent++
		if len(m) >= flushAt {
			if _, err = w.Write(m); err != nil {
				return sent, merged, err
			}
			m = m[:0]
		}
	}
	m = append(m, ']')
	_, err = w.Write(m)
	b.msg = m[:0]
	return sent, merged, err
}

// appendStreamEvent appends the StreamEvent of e (its frame stripped) as
// encoding/json writes it. An event whose fields JSON cannot carry (a NaN)
// goes with its fields replaced by a note saying why, as a trace records
// it, rather than ending the stream.
func appendStreamEvent(m []byte, e *observe.Event, coalesced int) []byte {
	hasFrame := len(e.Frame) > 0
	e.Frame = nil
	start := len(m)
	m, err := e.AppendJSON(m)
	if err != nil {
		e.Fields = map[string]any{"unencodable": err.Error()}
		m, _ = e.AppendJSON(m[:start])
	}
	m = m[:len(m)-1] // the closing brace: StreamEvent's own fields follow
	if hasFrame {
		m = append(m, `,"has_frame":true`...)
	}
	if coalesced != 0 {
		m = append(m, `,"coalesced":`...)
		m = strconv.AppendInt(m, int64(coalesced), 10)
	}
	return append(m, '}')
}

// seriesKey appends the key of the series a sample belongs to: its host,
// layer, connection and set of field names.
func (b *batchEncoder) seriesKey(key []byte, e *observe.Event) []byte {
	b.names = b.names[:0]
	for k := range e.Fields {
		b.names = append(b.names, k)
	}
	slices.Sort(b.names)
	key = append(key, e.Host...)
	key = append(key, 0)
	key = append(key, e.Layer...)
	key = append(key, 0)
	key = append(key, e.Conn...)
	key = append(key, 0)
	for i, k := range b.names {
		if i > 0 {
			key = append(key, ',')
		}
		key = append(key, k...)
	}
	clear(b.names) // no references kept to the batch's strings
	return key
}
