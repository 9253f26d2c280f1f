package tap

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// NetnsPath returns the file of a named network namespace (as made by
// "ip netns add NAME"); a name with a slash is taken as a path already.
func NetnsPath(name string) string {
	if strings.Contains(name, "/") {
		return name
	}
	return filepath.Join("/run/netns", name)
}

// InNetns runs f on an OS thread that has entered the network namespace
// ns (a name for NetnsPath or a path), and returns f's error. Sockets and
// devices f creates, such as a TAP device OpenTAP opens, belong to that
// namespace and stay there after InNetns returns; frames read from and
// written to them cross that namespace's network only. The calling
// goroutine's thread, and so the process's own namespace, is never
// switched: f runs on a fresh goroutine locked to its thread, and a thread
// that cannot be switched back is discarded.
func InNetns(ns string, f func() error) error {
	path := NetnsPath(ns)
	target, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("network namespace %s: %w", path, err)
	}
	defer unix.Close(target)
	result := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Without UnlockOSThread, this goroutine's exit ends the thread:
		// a thread whose namespace could not be restored dies with it.
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			result <- fmt.Errorf("open own network namespace: %w", err)
			return
		}
		defer unix.Close(orig)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			result <- fmt.Errorf("enter network namespace %s: %w", path, err)
			return
		}
		ferr := f()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			result <- errors.Join(ferr, fmt.Errorf("leave network namespace %s: %w", path, err))
			return
		}
		runtime.UnlockOSThread()
		result <- ferr
	}()
	return <-result
}
