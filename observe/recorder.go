package observe

import (
	"bufio"
	"context"
	"io"
	"sync"
	"sync/atomic"
)

// DefaultRecorderQueue is the queue bound of a Recorder's subscription.
const DefaultRecorderQueue = 1 << 16

// RecorderOption configures a Recorder.
type RecorderOption func(*recorderConfig)

type recorderConfig struct {
	queueLen int
}

// RecorderQueue sets the bound of the recorder's queue (DefaultRecorderQueue
// by default). Events published while it is full are missed, and the trace
// says so with a gap event.
func RecorderQueue(n int) RecorderOption {
	return func(c *recorderConfig) { c.queueLen = n }
}

// Recorder writes a trace file: the header, then every event of a bus that
// matches its filter, from the moment it is made until Close. It writes on a
// goroutine of its own through a buffer, flushed whenever it has caught up,
// so a trace being recorded can be read while it grows. If the recorder
// falls behind by more than its queue, the trace holds a gap event with the
// number of events missing, so an incomplete trace says so.
type Recorder struct {
	sub   *Subscription
	bw    *bufio.Writer
	enc   *lineEncoder
	count atomic.Uint64
	done  chan struct{}
	once  sync.Once
	err   error // the first write error; read after done is closed
}

// NewRecorder writes h to w at once (with Format and Version set), then
// starts recording the events of b that match f. It returns the error of
// writing the header, if any. The caller keeps w and closes it after
// [Recorder.Close].
func NewRecorder(b *Bus, w io.Writer, h TraceHeader, f Filter, opts ...RecorderOption) (*Recorder, error) {
	cfg := recorderConfig{queueLen: DefaultRecorderQueue}
	for _, o := range opts {
		o(&cfg)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := newLineEncoder(bw)
	if err := enc.header(h); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	r := &Recorder{
		sub:  b.Subscribe(f, cfg.queueLen),
		bw:   bw,
		enc:  enc,
		done: make(chan struct{}),
	}
	go r.run()
	return r, nil
}

func (r *Recorder) run() {
	defer close(r.done)
	ctx := context.Background()
	batch := make([]Event, 256)
	for {
		n := r.sub.TryNextN(batch)
		if n == 0 {
			// Caught up: make what was written visible, then wait.
			if err := r.bw.Flush(); err != nil {
				r.fail(err)
				return
			}
			e, err := r.sub.Next(ctx)
			if err != nil {
				r.err = r.bw.Flush() // ErrClosed: Close was called and all is written
				return
			}
			batch[0], n = e, 1
		}
		for i := range batch[:n] {
			if err := r.enc.event(&batch[i]); err != nil {
				r.fail(err)
				return
			}
			batch[i] = Event{}
			r.count.Add(1)
		}
	}
}

func (r *Recorder) fail(err error) {
	r.err = err
	r.sub.Close()
}

// Close stops recording. Every event published before Close was called is
// written (or, if the recorder had fallen behind, accounted for by a gap
// event) and the buffer is flushed before Close returns. It returns the first
// error writing the trace, if any; the recorder stops at that error. Close may
// be called more than once.
func (r *Recorder) Close() error {
	r.once.Do(r.sub.detach)
	<-r.done
	return r.err
}

// Count returns the number of events written so far, gap events included.
func (r *Recorder) Count() uint64 { return r.count.Load() }

// Missed returns the number of events the recorder missed because it fell
// behind; a trace with Missed() > 0 is incomplete (and holds gap events).
func (r *Recorder) Missed() uint64 { return r.sub.Stats().Missed }
