package clock

import (
	"fmt"
	"time"
)

// Time is an instant on a loop's clock, in nanoseconds. On a wall loop it is
// Unix time; on a virtual loop it counts from 0 at the start of the run.
type Time int64

// Add returns t+d.
func (t Time) Add(d time.Duration) Time { return t + Time(d) }

// Sub returns the duration t-u.
func (t Time) Sub(u Time) time.Duration { return time.Duration(t - u) }

// Before reports whether t is before u.
func (t Time) Before(u Time) bool { return t < u }

// After reports whether t is after u.
func (t Time) After(u Time) bool { return t > u }

// Nanoseconds returns t as a count of nanoseconds.
func (t Time) Nanoseconds() int64 { return int64(t) }

// String formats t as seconds with microsecond precision ("12.000345s").
func (t Time) String() string {
	ns := int64(t)
	sign := ""
	if ns < 0 {
		sign, ns = "-", -ns
	}
	return fmt.Sprintf("%s%d.%06ds", sign, ns/1e9, (ns%1e9)/1e3)
}

// Never is a deadline that is never reached.
const Never Time = 1<<63 - 1
