package web

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"

	"github.com/tipy/tipy/stack"
)

type sockoptRequest struct {
	Level string          `json:"level"`
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"`
}

// optLevel returns the level of a request, or the level an option name
// belongs to when the request leaves it out.
func optLevel(level, name string) (stack.Level, error) {
	switch stack.Level(level) {
	case stack.SOL_SOCKET, stack.IPPROTO_IP, stack.IPPROTO_TCP:
		return stack.Level(level), nil
	case "":
		switch {
		case strings.HasPrefix(name, "SO_"):
			return stack.SOL_SOCKET, nil
		case strings.HasPrefix(name, "IP_"):
			return stack.IPPROTO_IP, nil
		case strings.HasPrefix(name, "TCP_"):
			return stack.IPPROTO_TCP, nil
		}
		return "", badRequest("level is required: SOL_SOCKET, IPPROTO_IP or IPPROTO_TCP")
	}
	return "", badRequest("level %q is not SOL_SOCKET, IPPROTO_IP or IPPROTO_TCP", level)
}

// strictUnmarshal decodes raw into v, refusing unknown fields.
func strictUnmarshal(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// optValue converts the JSON value of option name to the Go value the
// stack's SetSockopt takes: stack.Linger for SO_LINGER, stack.Membership for
// IP_ADD_MEMBERSHIP and IP_DROP_MEMBERSHIP, []byte for IP_OPTIONS (base64 or
// an array of byte values), netip.Addr for IP_MULTICAST_IF, a string for
// TCP_CONGESTION, int for whole numbers and bool for booleans.
func optValue(name string, raw json.RawMessage) (any, error) {
	if len(raw) == 0 {
		return nil, badRequest("value is required")
	}
	bad := func(format string, args ...any) (any, error) {
		return nil, badRequest(name+": "+format, args...)
	}
	switch name {
	case stack.SO_LINGER:
		var l struct {
			On      *bool `json:"on"`
			Seconds int   `json:"seconds"`
		}
		if err := strictUnmarshal(raw, &l); err != nil || l.On == nil {
			return bad(`want {"on":true,"seconds":N}`)
		}
		return stack.Linger{On: *l.On, Seconds: l.Seconds}, nil
	case stack.IP_ADD_MEMBERSHIP, stack.IP_DROP_MEMBERSHIP:
		var m struct {
			Group     string `json:"group"`
			Interface string `json:"interface"`
		}
		if err := strictUnmarshal(raw, &m); err != nil {
			return bad(`want {"group":"239.1.2.3","interface":"0.0.0.0"}`)
		}
		g, err := netip.ParseAddr(m.Group)
		if err != nil || !g.Is4() {
			return bad("group %q is not an IPv4 address", m.Group)
		}
		ifc := netip.IPv4Unspecified()
		if m.Interface != "" {
			if ifc, err = netip.ParseAddr(m.Interface); err != nil || !ifc.Is4() {
				return bad("interface %q is not an IPv4 address", m.Interface)
			}
		}
		return stack.Membership{Group: g, Interface: ifc}, nil
	case stack.IP_OPTIONS:
		if string(raw) == "null" {
			return []byte(nil), nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return bad("not valid base64: %v", err)
			}
			return b, nil
		}
		var arr []int
		if err := json.Unmarshal(raw, &arr); err != nil {
			return bad("want base64 bytes or an array of byte values")
		}
		b := make([]byte, len(arr))
		for i, x := range arr {
			if x < 0 || x > 255 {
				return bad("byte %d is %d, not in [0, 255]", i, x)
			}
			b[i] = byte(x)
		}
		return b, nil
	case stack.IP_MULTICAST_IF:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return bad("want an interface address as a string")
		}
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			return bad("%q is not an IPv4 address", s)
		}
		return a, nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return bad("value is not JSON: %v", err)
	}
	switch x := v.(type) {
	case bool, string:
		return x, nil
	case json.Number:
		n, err := x.Int64()
		if err != nil {
			return bad("want a whole number, got %s", x)
		}
		return int(n), nil
	}
	return bad("want a number, a boolean or a string")
}

func (s *Server) setsockopt(w http.ResponseWriter, r *http.Request) error {
	so, err := s.socket(r)
	if err != nil {
		return err
	}
	var req sockoptRequest
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	if req.Name == "" {
		return badRequest("name is required, e.g. SO_REUSEADDR")
	}
	level, err := optLevel(req.Level, req.Name)
	if err != nil {
		return err
	}
	v, err := optValue(req.Name, req.Value)
	if err != nil {
		return err
	}
	if err := so.SetSockopt(level, req.Name, v); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, so.Info())
	return nil
}

func (s *Server) getsockopt(w http.ResponseWriter, r *http.Request) error {
	so, err := s.socket(r)
	if err != nil {
		return err
	}
	var req struct {
		Level string `json:"level"`
		Name  string `json:"name"`
	}
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	if req.Name == "" {
		return badRequest("name is required, e.g. SO_RCVBUF")
	}
	level, err := optLevel(req.Level, req.Name)
	if err != nil {
		return err
	}
	v, err := so.GetSockopt(level, req.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"level": level, "name": req.Name, "value": v})
	return nil
}
