package web

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/tipy/tipy/stack"
)

// MaxRecv is the most bytes one recv call of the API returns.
const MaxRecv = 1 << 20

// DefaultRecv is the max of a recv call that does not give one.
const DefaultRecv = 65536

// socket returns the open socket named by {id} on the host named by {host}.
func (s *Server) socket(r *http.Request) (*stack.Socket, error) {
	h, err := s.host(r)
	if err != nil {
		return nil, err
	}
	raw := chi.URLParam(r, "id")
	id, err := strconv.Atoi(raw)
	if err != nil {
		return nil, badRequest("socket id %q is not a number", raw)
	}
	var so *stack.Socket
	var ok bool
	h.Call(func() { so, ok = h.SocketByID(id) })
	if !ok {
		return nil, notFound("host %s has no open socket %d", h.Name(), id)
	}
	return so, nil
}

// sockType reads the "type" of a socket request.
func sockType(t string) (stack.SockType, error) {
	switch t {
	case "stream", "SOCK_STREAM", "tcp":
		return stack.SOCK_STREAM, nil
	case "dgram", "SOCK_DGRAM", "udp":
		return stack.SOCK_DGRAM, nil
	case "raw", "SOCK_RAW":
		return stack.SOCK_RAW, nil
	case "":
		return 0, badRequest("type is required: stream, dgram or raw")
	}
	return 0, badRequest("type %q is not stream, dgram or raw", t)
}

type createRequest struct {
	Type     string `json:"type"`
	Protocol int    `json:"protocol"`
}

func (s *Server) createSocket(w http.ResponseWriter, r *http.Request) error {
	h, err := s.host(r)
	if err != nil {
		return err
	}
	var req createRequest
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	typ, err := sockType(req.Type)
	if err != nil {
		return err
	}
	so, err := h.Socket(stack.AF_INET, typ, req.Protocol)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, so.Info())
	return nil
}

func (s *Server) listSockets(w http.ResponseWriter, r *http.Request) error {
	h, err := s.host(r)
	if err != nil {
		return err
	}
	var socks []*stack.Socket
	h.Call(func() { socks = h.Sockets() })
	out := make([]stack.SocketInfo, 0, len(socks))
	for _, so := range socks {
		out = append(out, so.Info())
	}
	writeJSON(w, http.StatusOK, map[string]any{"sockets": out})
	return nil
}

func (s *Server) getSocket(w http.ResponseWriter, r *http.Request) error {
	so, err := s.socket(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, so.Info())
	return nil
}

func (s *Server) closeSocket(w http.ResponseWriter, r *http.Request) error {
	so, err := s.socket(r)
	if err != nil {
		return err
	}
	if err := so.Close(); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// addrRequest is the address of bind, connect and sendto.
type addrRequest struct {
	Address   string `json:"address"`
	Port      int    `json:"port"`
	TimeoutMS *int64 `json:"timeout_ms"`
}

// addrPort reads address and port; an empty address is the unspecified one
// when anyOK, else an error.
func addrPort(address string, port int, anyOK bool) (netip.AddrPort, error) {
	if port < 0 || port > 65535 {
		return netip.AddrPort{}, badRequest("port %d is out of range [0, 65535]", port)
	}
	if address == "" && anyOK {
		return netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(port)), nil
	}
	a, err := parseAddr("address", address)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(a, uint16(port)), nil
}

func (s *Server) bindSocket(w http.ResponseWriter, r *http.Request) error {
	so, err := s.socket(r)
	if err != nil {
		return err
	}
	var req struct {
		Address string `json:"address"`
		Port    int    `json:"port"`
	}
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	ap, err := addrPort(req.Address, req.Port, true)
	if err != nil {
		return err
	}
	if err := so.Bind(ap); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, so.Info())
	return nil
}

// blocking is the context of a blocking socket call: timeout_ms when given
// (at most MaxWait), otherwise the socket's own timeout within MaxWait.
type blocking struct {
	ctx       context.Context
	cancel    context.CancelFunc
	timeoutMS *int64
	limit     time.Duration
}

func (s *Server) blocking(r *http.Request, timeoutMS *int64) (*blocking, error) {
	d := s.cfg.MaxWait
	if timeoutMS != nil {
		if *timeoutMS < 0 {
			return nil, badRequest("timeout_ms must not be negative (leave it out to use the socket's timeout)")
		}
		if t := time.Duration(*timeoutMS) * time.Millisecond; t < d {
			d = t
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), d)
	return &blocking{ctx: ctx, cancel: cancel, timeoutMS: timeoutMS, limit: d}, nil
}

// result turns the error of a blocking call into the API's: a call ended by
// timeout_ms is 408 ETIMEDOUT (EAGAIN for timeout_ms 0, which only polls).
func (b *blocking) result(op string, err error) error {
	b.cancel()
	if err == nil || !errors.Is(b.ctx.Err(), context.DeadlineExceeded) {
		return err
	}
	var se *stack.SocketError
	if !errors.As(err, &se) || se.Errno != stack.ETIMEDOUT {
		return err
	}
	switch {
	case b.timeoutMS == nil || time.Duration(*b.timeoutMS)*time.Millisecond > b.limit:
		return &Error{Status: http.StatusRequestTimeout, Code: "ETIMEDOUT", Message: fmt.Sprintf("%s: no result within the server's limit of %v", op, b.limit)}
	case *b.timeoutMS == 0:
		return &Error{Status: http.StatusRequestTimeout, Code: "EAGAIN", Message: op + ": nothing is ready and timeout_ms is 0"}
	}
	return &Error{Status: http.StatusRequestTimeout, Code: "ETIMEDOUT", Message: fmt.Sprintf("%s: no result within timeout_ms=%d", op, *b.timeoutMS)}
}

func (s *Server) connectSocket(w http.ResponseWriter, r *http.Request) error {
	so, err := s.socket(r)
	if err != nil {
		return err
	}
	var req addrRequest
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	ap, err := addrPort(req.Address, req.Port, false)
	if err != nil {
		return err
	}
	b, err := s.blocking(r, req.TimeoutMS)
	if err != nil {
		return err
	}
	if err := b.result("connect", so.ConnectContext(b.ctx, ap)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, so.Info())
	return nil
}

func (s *Server) listenSocket(w http.ResponseWriter, r *http.Request) error {
	so, err := s.socket(r)
	if err != nil {
		return err
	}
	var req struct {
		Backlog int `json:"backlog"`
	}
	if err := s.decodeOptional(w, r, &req); err != nil {
		return err
	}
	if err := so.Listen(req.Backlog); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, so.Info())
	return nil
}

// AcceptJSON is the answer of accept: the new socket and its peer.
type AcceptJSON struct {
	stack.SocketInfo
	Peer string `json:"peer"`
}

func (s *Server) acceptSocket(w http.ResponseWriter, r *http.Request) error {
	so, err := s.socket(r)
	if err != nil {
		return err
	}
	var req struct {
		TimeoutMS *int64 `json:"timeout_ms"`
	}
	if err := s.decodeOptional(w, r, &req); err != nil {
		return err
	}
	b, err := s.blocking(r, req.TimeoutMS)
	if err != nil {
		return err
	}
	c, peer, err := so.AcceptContext(b.ctx)
	if err := b.result("accept", err); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, AcceptJSON{SocketInfo: c.Info(), Peer: peer.String()})
	return nil
}

type sendRequest struct {
	Text      *string `json:"text"`
	Data      *string `json:"data"`
	Address   string  `json:"address"`
	Port      int     `json:"port"`
	TimeoutMS *int64  `json:"timeout_ms"`
}

func (req *sendRequest) payload() ([]byte, error) {
	switch {
	case req.Text != nil && req.Data != nil:
		return nil, badRequest("give either text or data, not both")
	case req.Text != nil:
		return []byte(*req.Text), nil
	case req.Data != nil:
		b, err := base64.StdEncoding.DecodeString(*req.Data)
		if err != nil {
			return nil, badRequest("data is not valid base64: %v", err)
		}
		return b, nil
	}
	return nil, badRequest("give the bytes to send as text (a string) or data (base64)")
}

func (s *Server) sendSocket(w http.ResponseWriter, r *http.Request) error {
	return s.send(w, r, false)
}

func (s *Server) sendtoSocket(w http.ResponseWriter, r *http.Request) error {
	return s.send(w, r, true)
}

func (s *Server) send(w http.ResponseWriter, r *http.Request, to bool) error {
	so, err := s.socket(r)
	if err != nil {
		return err
	}
	var req sendRequest
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	p, err := req.payload()
	if err != nil {
		return err
	}
	var ap netip.AddrPort
	if to {
		if ap, err = addrPort(req.Address, req.Port, false); err != nil {
			return err
		}
	} else if req.Address != "" || req.Port != 0 {
		return badRequest("send goes to the connected peer; use sendto to give an address and port")
	}
	b, err := s.blocking(r, req.TimeoutMS)
	if err != nil {
		return err
	}
	var n int
	op := "send"
	if to {
		op = "sendto"
		n, err = so.SendToContext(b.ctx, p, ap)
	} else {
		n, err = so.SendContext(b.ctx, p)
	}
	if err := b.result(op, err); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int{"bytes": n})
	return nil
}

// RecvJSON is the answer of recv and recvfrom.
type RecvJSON struct {
	Data    string  `json:"data"`           // base64
	Text    *string `json:"text,omitempty"` // only when the bytes are valid UTF-8
	Bytes   int     `json:"bytes"`
	EOF     bool    `json:"eof"`               // a stream's peer closed its side
	Address string  `json:"address,omitempty"` // recvfrom: the sender
	Port    *int    `json:"port,omitempty"`    // recvfrom: the sender's port
}

func (s *Server) recvSocket(w http.ResponseWriter, r *http.Request) error {
	return s.recv(w, r, false)
}

func (s *Server) recvfromSocket(w http.ResponseWriter, r *http.Request) error {
	return s.recv(w, r, true)
}

func (s *Server) recv(w http.ResponseWriter, r *http.Request, from bool) error {
	so, err := s.socket(r)
	if err != nil {
		return err
	}
	var req struct {
		Max       *int   `json:"max"`
		TimeoutMS *int64 `json:"timeout_ms"`
	}
	if err := s.decodeOptional(w, r, &req); err != nil {
		return err
	}
	max := DefaultRecv
	if req.Max != nil {
		max = *req.Max
		if max < 1 || max > MaxRecv {
			return badRequest("max %d is out of range [1, %d]", max, MaxRecv)
		}
	}
	b, err := s.blocking(r, req.TimeoutMS)
	if err != nil {
		return err
	}
	data, peer, err := so.RecvFromContext(b.ctx, max)
	op := "recv"
	if from {
		op = "recvfrom"
	}
	if err := b.result(op, err); err != nil {
		return err
	}
	out := RecvJSON{Data: base64.StdEncoding.EncodeToString(data), Bytes: len(data)}
	if utf8.Valid(data) {
		t := string(data)
		out.Text = &t
	}
	out.EOF = len(data) == 0 && so.Type() == stack.SOCK_STREAM
	if from && peer.IsValid() {
		out.Address = peer.Addr().String()
		p := int(peer.Port())
		out.Port = &p
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) shutdownSocket(w http.ResponseWriter, r *http.Request) error {
	so, err := s.socket(r)
	if err != nil {
		return err
	}
	var req struct {
		How string `json:"how"`
	}
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	var how stack.How
	switch req.How {
	case "SHUT_RD", "rd", "read":
		how = stack.SHUT_RD
	case "SHUT_WR", "wr", "write":
		how = stack.SHUT_WR
	case "SHUT_RDWR", "rdwr", "both":
		how = stack.SHUT_RDWR
	default:
		return badRequest("how %q is not SHUT_RD, SHUT_WR or SHUT_RDWR", req.How)
	}
	if err := so.Shutdown(how); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, so.Info())
	return nil
}

func (s *Server) settimeout(w http.ResponseWriter, r *http.Request) error {
	so, err := s.socket(r)
	if err != nil {
		return err
	}
	var req struct {
		TimeoutMS *int64 `json:"timeout_ms"`
	}
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	d := time.Duration(-1)
	if req.TimeoutMS != nil {
		if *req.TimeoutMS < 0 {
			return badRequest("timeout_ms must not be negative (null makes the socket blocking)")
		}
		d = time.Duration(*req.TimeoutMS) * time.Millisecond
	}
	if err := so.SetTimeout(d); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, so.Info())
	return nil
}
