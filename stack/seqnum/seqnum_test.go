package seqnum

import "testing"

func TestCompareAcrossWrap(t *testing.T) {
	cases := []struct {
		v, w Value
		less bool
	}{
		{1, 2, true},
		{2, 1, false},
		{0xffffffff, 0, true},     // wraps: 0 comes after 2^32-1
		{0xfffffff0, 0x10, true},  // 32 apart across the wrap
		{0x10, 0xfffffff0, false}, //
		{0, 0x7fffffff, true},     // just under half the space
		{0x7fffffff, 0, false},
	}
	for _, c := range cases {
		if got := c.v.LessThan(c.w); got != c.less {
			t.Errorf("%#x < %#x = %v, want %v", c.v, c.w, got, c.less)
		}
		if got := c.w.GreaterThan(c.v); got != c.less {
			t.Errorf("%#x > %#x = %v, want %v", c.w, c.v, got, c.less)
		}
	}
	if !Value(5).LessThanEq(5) || !Value(5).GreaterThanEq(5) || Value(5).LessThan(5) {
		t.Error("equality")
	}
}

func TestWindow(t *testing.T) {
	first := Value(0xfffffff0)
	if !first.Add(0x20).InRange(first, first.Add(0x21)) {
		t.Error("end of a wrapped window")
	}
	for _, c := range []struct {
		v  Value
		in bool
	}{{0xfffffff0, true}, {0xffffffff, true}, {0, true}, {0xf, true}, {0x10, false}, {0xffffffef, false}} {
		if got := c.v.InWindow(first, 0x20); got != c.in {
			t.Errorf("%#x in [%#x, +0x20) = %v", c.v, first, got)
		}
	}
	if Value(7).InWindow(7, 0) {
		t.Error("an empty window contains nothing")
	}
	if Value(3).Sub(0xfffffffe) != 5 || Max(0xffffffff, 1) != 1 || Min(0xffffffff, 1) != 0xffffffff {
		t.Error("Sub/Max/Min across the wrap")
	}
}
