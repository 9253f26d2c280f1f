package tcp

// Buffer is a byte ring of fixed capacity: the send buffer (bytes written
// by the application, kept until acknowledged) and the receive buffer
// (bytes delivered in order, kept until the application reads them).
//
// Offsets count from the oldest byte held. For a send buffer, offset 0 is
// SND.UNA: Peek and Slices read at any offset for (re)transmission, and
// Discard drops acknowledged bytes.
//
// A buffer from NewBuffer allocates its storage once and keeps it. A
// buffer from [BufferPool.NewBuffer] takes its storage from the pool at
// its first Write and gives it back whenever it empties (while the pool has
// room for it), so an idle connection costs no buffer memory. Storage
// moves between a buffer and its pool without allocating: a connection
// that drains and refills its buffer takes back the storage it gave.
type Buffer struct {
	buf  []byte // storage: size bytes, or nil while a pooled buffer is empty
	size int    // capacity
	head int    // index of the oldest byte
	n    int    // bytes held
	pool *BufferPool
}

// NewBuffer returns an empty buffer of the given capacity, with its
// storage.
func NewBuffer(capacity int) *Buffer {
	capacity = max(capacity, 0)
	return &Buffer{buf: make([]byte, capacity), size: capacity}
}

// Cap returns the capacity.
func (b *Buffer) Cap() int { return b.size }

// Len returns the number of bytes held.
func (b *Buffer) Len() int { return b.n }

// Free returns the room left.
func (b *Buffer) Free() int { return b.size - b.n }

// Reset empties the buffer.
func (b *Buffer) Reset() {
	b.head, b.n = 0, 0
	b.release()
}

// release gives a pooled buffer's storage back once it is empty, if the
// pool has room for it; otherwise the buffer keeps it for its next bytes.
func (b *Buffer) release() {
	if b.pool != nil && b.n == 0 && b.buf != nil && b.pool.put(b.buf) {
		b.buf = nil
	}
}

// index returns the storage index of the byte at offset off (0 <= off <=
// Cap).
func (b *Buffer) index(off int) int {
	i := b.head + off
	if i >= b.size {
		i -= b.size
	}
	return i
}

// Write appends as much of p as fits and returns how much that was.
func (b *Buffer) Write(p []byte) int {
	if b.size == 0 || len(p) == 0 {
		return 0
	}
	if b.buf == nil {
		b.buf = b.pool.get(b.size)
	}
	p = p[:min(len(p), b.Free())]
	tail := b.index(b.n)
	k := copy(b.buf[tail:], p)
	copy(b.buf, p[k:])
	b.n += len(p)
	return len(p)
}

// Peek copies bytes from offset off into p without removing them, and
// returns how many it copied (fewer than len(p) at the end of the data, 0
// when off is out of range).
func (b *Buffer) Peek(off int, p []byte) int {
	x, y := b.Slices(off, len(p))
	k := copy(p, x)
	return k + copy(p[k:], y)
}

// Slices returns the bytes at [off, off+n), clipped to the data held, as
// one or two slices of the buffer's storage (two when they wrap around).
// They stay valid until the next Write, Discard or Read.
func (b *Buffer) Slices(off, n int) (first, second []byte) {
	if off < 0 || off >= b.n || n <= 0 {
		return nil, nil
	}
	n = min(n, b.n-off)
	i := b.index(off)
	if i+n <= b.size {
		return b.buf[i : i+n], nil
	}
	return b.buf[i:], b.buf[:n-(b.size-i)]
}

// Discard drops up to n bytes from the front and returns how many it
// dropped.
func (b *Buffer) Discard(n int) int {
	n = min(max(n, 0), b.n)
	b.n -= n
	if b.n == 0 {
		b.head = 0 // keep writes contiguous when the buffer drains
		b.release()
	} else {
		b.head = b.index(n)
	}
	return n
}

// Read moves up to len(p) bytes from the front into p and returns how many.
func (b *Buffer) Read(p []byte) int {
	return b.Discard(b.Peek(0, p))
}

// BufferPool lends storage to the buffers it makes, so that memory follows
// the bytes held rather than the number of connections. It keeps at most
// a few idle pieces of each size, and a bounded number of bytes; a buffer
// that empties while the pool is full keeps its storage, so that a busy
// connection never gives up and reallocates its buffer. Like the buffers,
// it belongs to one goroutine (a stack's loop).
type BufferPool struct {
	free     map[int][][]byte // idle storage by size
	maxIdle  int              // idle pieces kept per size
	maxBytes int              // idle bytes kept in all
	idle     int              // idle bytes kept now
}

// NewBufferPool returns a pool that keeps at most maxIdle idle pieces of
// each size and maxBytes idle bytes in all; storage beyond that is left to
// the garbage collector.
func NewBufferPool(maxIdle, maxBytes int) *BufferPool {
	return &BufferPool{free: make(map[int][][]byte), maxIdle: maxIdle, maxBytes: maxBytes}
}

// NewBuffer returns an empty buffer of the given capacity that borrows its
// storage from the pool while it holds bytes.
func (p *BufferPool) NewBuffer(capacity int) *Buffer {
	return &Buffer{size: max(capacity, 0), pool: p}
}

// Idle returns the number of idle bytes the pool keeps.
func (p *BufferPool) Idle() int { return p.idle }

func (p *BufferPool) get(size int) []byte {
	if l := p.free[size]; len(l) > 0 {
		b := l[len(l)-1]
		l[len(l)-1] = nil
		p.free[size] = l[:len(l)-1]
		p.idle -= size
		return b
	}
	return make([]byte, size)
}

// put takes b back if there is room, and reports whether it did.
func (p *BufferPool) put(b []byte) bool {
	l := p.free[len(b)]
	if len(l) >= p.maxIdle || p.idle+len(b) > p.maxBytes {
		return false
	}
	p.free[len(b)] = append(l, b)
	p.idle += len(b)
	return true
}
