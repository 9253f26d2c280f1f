package wire

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// l3RefSum is a byte-at-a-time reference for the one's complement sum of
// RFC 1071 §1, independent of Checksum: even bytes are high halves, odd
// bytes low halves, carries folded back at the end. It is not complemented.
func l3RefSum(b []byte, initial uint16) uint16 {
	sum := uint64(initial)
	for i, c := range b {
		if i%2 == 0 {
			sum += uint64(c) << 8
		} else {
			sum += uint64(c)
		}
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}

// TestChecksumRFC1071Example is the worked example of RFC 1071 §3: the bytes
// 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 (with carries 2 folded in), whatever
// the byte order or grouping.
func TestChecksumRFC1071Example(t *testing.T) {
	b := []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}
	if got := Checksum(b, 0); got != 0xddf2 {
		t.Fatalf("sum %#04x, want 0xddf2", got)
	}
	if got := ^Checksum(b, 0); got != 0x220d {
		t.Fatalf("checksum %#04x, want 0x220d", got)
	}
	// §2(B): the sum can be computed in any grouping; pairs of 16-bit words
	// give the same result.
	if got := Checksum(b[4:], Checksum(b[:4], 0)); got != 0xddf2 {
		t.Fatalf("in two pieces %#04x", got)
	}
	// A buffer holding its own checksum sums to all ones (RFC 1071 §1(3)).
	withSum := append(b, 0x22, 0x0d)
	if got := Checksum(withSum, 0); got != 0xffff {
		t.Fatalf("verification sum %#04x", got)
	}
}

func TestChecksumOddLength(t *testing.T) {
	// The odd final byte is padded with a zero on the right.
	if got := Checksum([]byte{0xab}, 0); got != 0xab00 {
		t.Fatalf("one byte: %#04x", got)
	}
	if got := Checksum([]byte{0x01, 0x02, 0x03}, 0); got != 0x0402 {
		t.Fatalf("three bytes: %#04x", got)
	}
	if got := Checksum(nil, 0); got != 0 {
		t.Fatalf("empty: %#04x", got)
	}
	r := rand.New(rand.NewPCG(1071, 1))
	for n := 0; n < 200; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		init := uint16(r.Uint32())
		if got, want := Checksum(b, init), l3RefSum(b, init); got != want {
			t.Fatalf("%d bytes, initial %#04x: %#04x, want %#04x", n, init, got, want)
		}
	}
	// All ones everywhere: the most carries.
	b := make([]byte, 1501)
	for i := range b {
		b[i] = 0xff
	}
	for n := range b {
		if got, want := Checksum(b[:n], 0xffff), l3RefSum(b[:n], 0xffff); got != want {
			t.Fatalf("%d bytes of ff: %#04x, want %#04x", n, got, want)
		}
	}
}

// TestChecksumChained sums discontiguous pieces by chaining: every piece but
// the last has even length.
func TestChecksumChained(t *testing.T) {
	r := rand.New(rand.NewPCG(1071, 2))
	b := make([]byte, 301)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	whole := Checksum(b, 0)
	for k := 0; k <= len(b); k += 2 {
		if got := Checksum(b[k:], Checksum(b[:k], 0)); got != whole {
			t.Fatalf("split at %d: %#04x, want %#04x", k, got, whole)
		}
	}
	for k := 0; k < len(b); k += 2 {
		for m := k; m <= len(b); m += 2 {
			if got := Checksum(b[m:], Checksum(b[k:m], Checksum(b[:k], 0))); got != whole {
				t.Fatalf("split at %d and %d: %#04x, want %#04x", k, m, got, whole)
			}
		}
	}
}

// TestChecksumUpdate16MatchesRecompute is the property of RFC 1624: after a
// 16-bit word changes, the incrementally updated checksum equals the one
// computed from scratch. The data always hold a non-zero word (as every IPv4
// header does, with its version): when all covered data become zero, eqn. 3
// yields 0x0000 where a recompute yields 0xffff (RFC 1624 §3, §5), which
// cannot happen for IPv4.
func TestChecksumUpdate16MatchesRecompute(t *testing.T) {
	r := rand.New(rand.NewPCG(1624, 3))
	const field = 10 // the checksum's place, as in an IPv4 header
	for iter := 0; iter < 100000; iter++ {
		n := 20 + 2*r.IntN(21)
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if iter%4 == 0 {
			clear(b[2:]) // mostly zero: sums near 0 and 0xffff
		}
		b[0] = 0x45
		binary.BigEndian.PutUint16(b[field:], 0)
		hc := ^Checksum(b, 0)
		binary.BigEndian.PutUint16(b[field:], hc)

		w := 2 + 2*r.IntN(n/2-1) // any word but the first
		if w == field {
			w = field + 2
		}
		old := binary.BigEndian.Uint16(b[w:])
		var nw uint16
		switch iter % 5 {
		case 0:
			nw = 0
		case 1:
			nw = 0xffff
		case 2:
			nw = old
		default:
			nw = uint16(r.Uint32())
		}
		binary.BigEndian.PutUint16(b[w:], nw)
		got := ChecksumUpdate16(hc, old, nw)

		binary.BigEndian.PutUint16(b[field:], 0)
		want := ^Checksum(b, 0)
		if got != want {
			t.Fatalf("iter %d: word %d %#04x -> %#04x: incremental %#04x, recomputed %#04x", iter, w, old, nw, got, want)
		}
		binary.BigEndian.PutUint16(b[field:], got)
		if Checksum(b, 0) != 0xffff {
			t.Fatalf("iter %d: updated checksum does not verify", iter)
		}
	}
}

func TestPseudoHeaderChecksum(t *testing.T) {
	src, dst := netip.MustParseAddr("192.168.2.7"), netip.MustParseAddr("192.168.2.20")
	for _, c := range []struct {
		proto IPProtocol
		n     uint16
	}{{ProtoUDP, 8}, {ProtoTCP, 1480}, {ProtoTCP, 65515}} {
		s, d := src.As4(), dst.As4()
		ph := []byte{s[0], s[1], s[2], s[3], d[0], d[1], d[2], d[3], 0, byte(c.proto), byte(c.n >> 8), byte(c.n)}
		if got, want := PseudoHeaderChecksum(c.proto, src, dst, c.n), l3RefSum(ph, 0); got != want {
			t.Errorf("%v %d: %#04x, want %#04x", c.proto, c.n, got, want)
		}
	}
}

func BenchmarkChecksum1500(b *testing.B) {
	buf := make([]byte, 1500)
	for i := range buf {
		buf[i] = byte(i)
	}
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		Checksum(buf, 0)
	}
}

func BenchmarkChecksum20(b *testing.B) {
	b.SetBytes(20)
	for b.Loop() {
		Checksum(goldenIPv4[:20], 0)
	}
}
