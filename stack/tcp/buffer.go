package tcp

// Buffer is a byte ring of fixed capacity: the send buffer (bytes written
// by the application, kept until acknowledged) and the receive buffer
// (bytes delivered in order, kept until the application reads them).
//
// Offsets count from the oldest byte held. For a send buffer, offset 0 is
// SND.UNA: Peek and Slices read at any offset for (re)transmission, and
// Discard drops acknowledged bytes. The storage is allocated once, by
// NewBuffer; no method allocates.
type Buffer struct {
	buf  []byte
	head int // index of the oldest byte
	n    int // bytes held
}

// NewBuffer returns an empty buffer of the given capacity.
func NewBuffer(capacity int) *Buffer {
	return &Buffer{buf: make([]byte, max(capacity, 0))}
}

// Cap returns the capacity.
func (b *Buffer) Cap() int { return len(b.buf) }

// Len returns the number of bytes held.
func (b *Buffer) Len() int { return b.n }

// Free returns the room left.
func (b *Buffer) Free() int { return len(b.buf) - b.n }

// Reset empties the buffer.
func (b *Buffer) Reset() { b.head, b.n = 0, 0 }

// index returns the storage index of the byte at offset off (0 <= off <=
// Cap).
func (b *Buffer) index(off int) int {
	i := b.head + off
	if i >= len(b.buf) {
		i -= len(b.buf)
	}
	return i
}

// Write appends as much of p as fits and returns how much that was.
func (b *Buffer) Write(p []byte) int {
	if len(b.buf) == 0 {
		return 0
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
	if i+n <= len(b.buf) {
		return b.buf[i : i+n], nil
	}
	return b.buf[i:], b.buf[:n-(len(b.buf)-i)]
}

// Discard drops up to n bytes from the front and returns how many it
// dropped.
func (b *Buffer) Discard(n int) int {
	n = min(max(n, 0), b.n)
	b.n -= n
	if b.n == 0 {
		b.head = 0 // keep writes contiguous when the buffer drains
	} else {
		b.head = b.index(n)
	}
	return n
}

// Read moves up to len(p) bytes from the front into p and returns how many.
func (b *Buffer) Read(p []byte) int {
	return b.Discard(b.Peek(0, p))
}
