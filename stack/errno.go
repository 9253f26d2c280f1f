package stack

import (
	"fmt"
	"syscall"
)

// Errno is a socket error, named as POSIX names it. It matches the
// corresponding syscall.Errno with errors.Is, so code written for Go's net
// package recognises tipy's errors (errors.Is(err, syscall.ECONNREFUSED)).
type Errno uint16

// The socket errors tipy reports.
const (
	EOK Errno = iota
	EAGAIN
	ETIMEDOUT
	ECONNREFUSED
	ECONNRESET
	ECONNABORTED
	EHOSTUNREACH
	ENETUNREACH
	EMSGSIZE
	EADDRINUSE
	EADDRNOTAVAIL
	EINVAL
	ENOTCONN
	EISCONN
	EPIPE
	EACCES
	EBADF
	EDESTADDRREQ
	ENOPROTOOPT
	EOPNOTSUPP
	EAFNOSUPPORT
	EPROTONOSUPPORT
	EPROTOTYPE
	ENOBUFS
	EALREADY
	EINPROGRESS
	EHOSTDOWN
	ENETDOWN
	EPROTO
	numErrno
)

var errnoInfo = [numErrno]struct {
	name string
	text string
	sys  syscall.Errno
}{
	EOK:             {"EOK", "success", 0},
	EAGAIN:          {"EAGAIN", "resource temporarily unavailable", syscall.EAGAIN},
	ETIMEDOUT:       {"ETIMEDOUT", "timed out", syscall.ETIMEDOUT},
	ECONNREFUSED:    {"ECONNREFUSED", "connection refused", syscall.ECONNREFUSED},
	ECONNRESET:      {"ECONNRESET", "connection reset by peer", syscall.ECONNRESET},
	ECONNABORTED:    {"ECONNABORTED", "connection aborted", syscall.ECONNABORTED},
	EHOSTUNREACH:    {"EHOSTUNREACH", "no route to host", syscall.EHOSTUNREACH},
	ENETUNREACH:     {"ENETUNREACH", "network is unreachable", syscall.ENETUNREACH},
	EMSGSIZE:        {"EMSGSIZE", "message too long", syscall.EMSGSIZE},
	EADDRINUSE:      {"EADDRINUSE", "address already in use", syscall.EADDRINUSE},
	EADDRNOTAVAIL:   {"EADDRNOTAVAIL", "cannot assign requested address", syscall.EADDRNOTAVAIL},
	EINVAL:          {"EINVAL", "invalid argument", syscall.EINVAL},
	ENOTCONN:        {"ENOTCONN", "socket is not connected", syscall.ENOTCONN},
	EISCONN:         {"EISCONN", "socket is already connected", syscall.EISCONN},
	EPIPE:           {"EPIPE", "broken pipe", syscall.EPIPE},
	EACCES:          {"EACCES", "permission denied", syscall.EACCES},
	EBADF:           {"EBADF", "bad file descriptor (socket closed)", syscall.EBADF},
	EDESTADDRREQ:    {"EDESTADDRREQ", "destination address required", syscall.EDESTADDRREQ},
	ENOPROTOOPT:     {"ENOPROTOOPT", "protocol not available", syscall.ENOPROTOOPT},
	EOPNOTSUPP:      {"EOPNOTSUPP", "operation not supported", syscall.EOPNOTSUPP},
	EAFNOSUPPORT:    {"EAFNOSUPPORT", "address family not supported", syscall.EAFNOSUPPORT},
	EPROTONOSUPPORT: {"EPROTONOSUPPORT", "protocol not supported", syscall.EPROTONOSUPPORT},
	EPROTOTYPE:      {"EPROTOTYPE", "protocol wrong type for socket", syscall.EPROTOTYPE},
	ENOBUFS:         {"ENOBUFS", "no buffer space available", syscall.ENOBUFS},
	EALREADY:        {"EALREADY", "operation already in progress", syscall.EALREADY},
	EINPROGRESS:     {"EINPROGRESS", "operation now in progress", syscall.EINPROGRESS},
	EHOSTDOWN:       {"EHOSTDOWN", "host is down", syscall.EHOSTDOWN},
	ENETDOWN:        {"ENETDOWN", "network is down", syscall.ENETDOWN},
	EPROTO:          {"EPROTO", "protocol error", syscall.EPROTO},
}

// Name returns the POSIX name, e.g. "ECONNREFUSED".
func (e Errno) Name() string {
	if e < numErrno {
		return errnoInfo[e].name
	}
	return fmt.Sprintf("E%d", uint16(e))
}

// Error returns the description, e.g. "connection refused".
func (e Errno) Error() string {
	if e < numErrno {
		return errnoInfo[e].text
	}
	return fmt.Sprintf("errno %d", uint16(e))
}

// Is makes errors.Is(tipyErr, syscall.ECONNREFUSED) true.
func (e Errno) Is(target error) bool {
	if se, ok := target.(syscall.Errno); ok && e < numErrno {
		return errnoInfo[e].sys == se && se != 0
	}
	return false
}

// Timeout reports whether e is a timeout, as net.Error asks.
func (e Errno) Timeout() bool { return e == ETIMEDOUT || e == EAGAIN }

// Temporary reports whether retrying may succeed.
func (e Errno) Temporary() bool { return e == EAGAIN || e == ETIMEDOUT || e == ENOBUFS }

// ErrnoByName returns the Errno with the POSIX name, for clients of the API.
func ErrnoByName(name string) (Errno, bool) {
	for i, info := range errnoInfo {
		if info.name == name {
			return Errno(i), true
		}
	}
	return 0, false
}

// SocketError is the error of one socket operation: what was tried, on
// which socket and address, the errno, and the detail a person needs.
type SocketError struct {
	Op     string // "connect", "send", "recv", ...
	Addr   string // the address involved, if any
	Errno  Errno
	Detail string // e.g. "ICMP port unreachable from 192.168.2.20"
}

// Error returns the operation, the address, the errno's name and
// description, and the detail, as in "recv 10.0.0.2:9: ECONNREFUSED:
// connection refused (ICMP port unreachable from 10.0.0.2)".
func (e *SocketError) Error() string {
	s := e.Op
	if e.Addr != "" {
		s += " " + e.Addr
	}
	s += ": " + e.Errno.Name() + ": " + e.Errno.Error()
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// Unwrap returns the Errno, so errors.Is(err, stack.ECONNREFUSED) and
// errors.Is(err, syscall.ECONNREFUSED) both work.
func (e *SocketError) Unwrap() error { return e.Errno }

// Timeout reports whether the operation timed out, as net.Error asks.
func (e *SocketError) Timeout() bool { return e.Errno.Timeout() }

// Temporary reports whether retrying may succeed.
func (e *SocketError) Temporary() bool { return e.Errno.Temporary() }

func sockErr(op string, addr string, errno Errno, detail string) error {
	return &SocketError{Op: op, Addr: addr, Errno: errno, Detail: detail}
}
