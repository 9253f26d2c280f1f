package wire

import (
	"encoding/json"
	"sort"
	"testing"
)

// FuzzDissect checks the dissection invariants on any bytes: no panic, the
// layers tile the frame, every node lies within its parent, children in
// order, a bounded tree, and a result that encodes as JSON.
func FuzzDissect(f *testing.F) {
	frames := disFrames(f)
	names := make([]string, 0, len(frames))
	for name := range frames {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		f.Add(frames[name])
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		d := Dissect(frame)
		disCheckInvariants(t, frame, d)
		if _, err := json.Marshal(d); err != nil {
			t.Fatal(err)
		}
	})
}
