// Package demotest runs the example programs in their tests: in the
// virtual network (Run, Equal, Contains, UsageErrors) and, on Linux, on a
// TAP device inside a network namespace a test creates, with the Linux
// kernel as the real machine on the other side (New).
package demotest

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/tipy/tipy/examples/internal/demo"
)

// Run runs an example's run function with args (in the virtual network
// unless they say -tap) and returns what it printed; an error fails the
// test.
func Run(t *testing.T, run func(args []string, stdout io.Writer) error, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	if err := run(args, &out); err != nil {
		t.Fatalf("%v\noutput:\n%s", err, out.String())
	}
	return out.String()
}

// Equal fails the test unless an example printed exactly want.
func Equal(t *testing.T, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}

// Contains fails the test for each of wants that out lacks.
func Contains(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// UsageErrors fails the test unless run refuses each of argss with a
// usage error.
func UsageErrors(t *testing.T, run func(args []string, stdout io.Writer) error, argss ...[]string) {
	t.Helper()
	var usage *demo.UsageError
	for _, args := range argss {
		if err := run(args, new(bytes.Buffer)); !errors.As(err, &usage) {
			t.Errorf("run(%q): %v, want a usage error", args, err)
		}
	}
}
