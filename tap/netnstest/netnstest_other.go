//go:build !linux

package netnstest

import (
	"os"
	"runtime"
	"testing"
)

// RequireEnv is the environment variable that turns a skip for lack of
// namespaces into a failure.
const RequireEnv = "TIPY_REQUIRE_NETNS"

// Require skips the test: network namespaces exist on Linux only. With
// TIPY_REQUIRE_NETNS=1 it fails the test instead.
func Require(t testing.TB) {
	t.Helper()
	msg := "needs root and iproute2 to create a network namespace; set " + RequireEnv +
		"=1 to make this a failure (network namespaces are Linux-only, this is " + runtime.GOOS + ")"
	if os.Getenv(RequireEnv) == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
