package observe

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrUnknownLayer is wrapped by the error ParseFilter returns for a layer
// name that is not one of the Layer constants.
var ErrUnknownLayer = errors.New("unknown layer")

// Layers lists every layer, in the order of the stack from the wire up.
var Layers = []Layer{LayerLink, LayerARP, LayerIPv4, LayerICMP, LayerIGMP, LayerUDP, LayerTCP, LayerSocket, LayerLab}

// Filter selects events. Each non-empty field must match: Hosts, Layers and
// Kinds match when the event's value is one of theirs, Conn when it names the
// event's connection from either end ("10.0.0.1:80-10.0.0.2:4000" also
// matches "10.0.0.2:4000-10.0.0.1:80", so that both peers' events show). The
// zero Filter matches every event.
type Filter struct {
	Hosts  []string
	Layers []Layer
	Kinds  []Kind
	Conn   string
}

// IsZero reports whether f matches every event.
func (f Filter) IsZero() bool {
	return len(f.Hosts) == 0 && len(f.Layers) == 0 && len(f.Kinds) == 0 && f.Conn == ""
}

// Match reports whether e passes f.
func (f Filter) Match(e *Event) bool {
	if len(f.Hosts) > 0 && !slices.Contains(f.Hosts, e.Host) {
		return false
	}
	if len(f.Layers) > 0 && !slices.Contains(f.Layers, e.Layer) {
		return false
	}
	if len(f.Kinds) > 0 && !slices.Contains(f.Kinds, e.Kind) {
		return false
	}
	return f.Conn == "" || sameConn(f.Conn, e.Conn)
}

// sameConn reports whether connection ids a and b are equal, or equal once
// one is read from the other end ("A-B" against "B-A"). It does not allocate.
func sameConn(a, b string) bool {
	if a == b {
		return true
	}
	if len(a) != len(b) {
		return false
	}
	i, j := strings.IndexByte(a, '-'), strings.IndexByte(b, '-')
	if i < 0 || j < 0 {
		return false
	}
	return a[:i] == b[j+1:] && a[i+1:] == b[:j]
}

// ParseFilter builds a Filter from the comma-separated lists of a query
// string (?hosts=a,b&layers=tcp,ipv4&kinds=drop&conn=...). Blanks around
// names and empty items are ignored; an empty string leaves that part open.
// A layer that is not one of the Layer constants is an error wrapping
// ErrUnknownLayer. Kinds are open-ended (layers may add their own), so any
// name is accepted.
func ParseFilter(hosts, layers, kinds, conn string) (Filter, error) {
	f := Filter{Hosts: splitList(hosts), Conn: strings.TrimSpace(conn)}
	for _, name := range splitList(layers) {
		l := Layer(strings.ToLower(name))
		if !slices.Contains(Layers, l) {
			return Filter{}, fmt.Errorf("filter: %w %q (known: %s)", ErrUnknownLayer, name, layerNames())
		}
		f.Layers = append(f.Layers, l)
	}
	for _, name := range splitList(kinds) {
		f.Kinds = append(f.Kinds, Kind(strings.ToLower(name)))
	}
	return f, nil
}

func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func layerNames() string {
	names := make([]string, len(Layers))
	for i, l := range Layers {
		names[i] = string(l)
	}
	return strings.Join(names, ", ")
}
