package stack_test

import (
	"strconv"
	"strings"
)

// fmtSscanQuoted parses the Go-quoted string at the start of s into out.
func fmtSscanQuoted(s string, out *[]byte) (int, error) {
	end := strings.LastIndex(s, ")")
	if end < 0 {
		end = len(s)
	}
	q, err := strconv.Unquote(strings.TrimSpace(s[:end]))
	if err != nil {
		return 0, err
	}
	*out = []byte(q)
	return len(q), nil
}
