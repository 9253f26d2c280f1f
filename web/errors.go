package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/tipy/tipy/stack"
)

// Error codes that are not POSIX errno names.
const (
	CodeBadRequest   = "bad_request"
	CodeNotFound     = "not_found"
	CodeUnauthorized = "unauthorized"
	CodeForbidden    = "forbidden"
	CodeConflict     = "conflict"
	CodeTooLarge     = "too_large"
	CodeInternal     = "internal"
	CodeNotAllowed   = "method_not_allowed"
)

// Error is an API error: the HTTP status and the body of the contracts,
// {"error":{"code":"ECONNREFUSED","message":"..."}}. Handlers return it; the
// error helpers of this file build it.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, CodeBadRequest, format, args...)
}

func notFound(format string, args ...any) *Error {
	return errorf(http.StatusNotFound, CodeNotFound, format, args...)
}

func conflict(format string, args ...any) *Error {
	return errorf(http.StatusConflict, CodeConflict, format, args...)
}

// errnoStatus is the HTTP status of a socket error, by errno.
func errnoStatus(op string, e stack.Errno) int {
	switch e {
	case stack.ETIMEDOUT, stack.EAGAIN:
		return http.StatusRequestTimeout
	case stack.EISCONN, stack.ENOTCONN, stack.EALREADY, stack.EINPROGRESS, stack.EPIPE,
		stack.EADDRINUSE, stack.EBADF, stack.EDESTADDRREQ:
		return http.StatusConflict
	case stack.EINVAL:
		// EINVAL is a wrong state for the socket calls (listen on a connected
		// socket, bind twice) and a wrong value for the others.
		switch op {
		case "setsockopt", "getsockopt", "socket", "ping":
			return http.StatusBadRequest
		}
		return http.StatusConflict
	case stack.ECONNREFUSED, stack.ECONNRESET, stack.ECONNABORTED, stack.EHOSTUNREACH,
		stack.ENETUNREACH, stack.EHOSTDOWN, stack.ENETDOWN, stack.EPROTO:
		// The network answered with a failure: the API is a gateway to it.
		return http.StatusBadGateway
	case stack.ENOBUFS:
		return http.StatusServiceUnavailable
	case stack.EACCES:
		return http.StatusForbidden
	}
	return http.StatusBadRequest
}

// apiError turns any error into an *Error: an *Error as it is, a socket
// error with its errno's POSIX name, anything else as a 500.
func apiError(err error) *Error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	var se *stack.SocketError
	if errors.As(err, &se) {
		return &Error{Status: errnoStatus(se.Op, se.Errno), Code: se.Errno.Name(), Message: se.Error()}
	}
	var en stack.Errno
	if errors.As(err, &en) {
		return &Error{Status: errnoStatus("", en), Code: en.Name(), Message: en.Error()}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return badRequest("request body is larger than the limit of %d bytes", mbe.Limit)
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: err.Error()}
}

// writeJSON writes v as the JSON response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// writeError writes err in the error form of the contracts.
func writeError(w http.ResponseWriter, err error) {
	ae := apiError(err)
	writeJSON(w, ae.Status, map[string]*Error{"error": ae})
}

// decodeJSON reads the request body into v: at most limit bytes, one JSON
// value, no unknown fields. An empty body leaves v as it is when allowEmpty.
// Its errors are 400s that name the problem.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err != nil {
			return jsonError(err)
		}
		return badRequest("request body holds more than one JSON value")
	}
	return nil
}

// decodeOptionalJSON is decodeJSON for bodies that may be empty.
func decodeOptionalJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if r.ContentLength == 0 && r.Body != nil {
		// Chunked bodies have ContentLength -1 and are decoded below.
		return nil
	}
	err := decodeJSON(w, r, limit, v)
	var ae *Error
	if errors.As(err, &ae) && ae.Message == "request body is empty" {
		return nil
	}
	return err
}

// jsonError names what is wrong with a request body.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, io.EOF):
		return badRequest("request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("malformed JSON: the body ends in the middle of a value")
	case errors.As(err, &mbe):
		return badRequest("request body is larger than the limit of %d bytes", mbe.Limit)
	case errors.As(err, &syn):
		return badRequest("malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "the body"
		}
		return badRequest("wrong type for %s: got a JSON %s, want %s", field, typ.Value, typeName(typ.Type.String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return badRequest("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return badRequest("invalid request body: %v", err)
}

// typeName says a Go type in the words of JSON.
func typeName(t string) string {
	switch {
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "*int"), strings.HasPrefix(t, "uint"), strings.HasPrefix(t, "*uint"):
		return "an integer"
	case strings.HasPrefix(t, "float"), strings.HasPrefix(t, "*float"):
		return "a number"
	case t == "string", t == "*string":
		return "a string"
	case t == "bool", t == "*bool":
		return "a boolean"
	case strings.HasPrefix(t, "[]"):
		return "an array"
	}
	return "an object"
}
