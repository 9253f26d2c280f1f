// Command tipyweb runs tipy: an embedded lab of tipy hosts on a virtual
// network (the default), or host "tipy" on a real TAP device, with the
// dashboard and the REST API on --listen.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status of the
// contracts (0 clean shutdown, 1 runtime error, 2 usage error).
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "version":
			fmt.Fprintf(stdout, "tipyweb %s\n", version)
			return 0
		case "netns-lab":
			o, err := parseFlags(args[1:], stderr)
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			if err != nil {
				fmt.Fprintf(stderr, "tipyweb: %v\n", err)
				return 2
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return report(stderr, netnsLab(ctx, o, stdout, stderr))
		case "replay":
			if len(args) < 2 || strings.HasPrefix(args[1], "-") {
				fmt.Fprintln(stderr, "usage: tipyweb replay FILE [--listen ADDR] [--token T]")
				return 2
			}
			o, err := parseFlags(args[2:], stderr)
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			if err != nil {
				fmt.Fprintf(stderr, "tipyweb: %v\n", err)
				return 2
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return report(stderr, replay(ctx, args[1], o, stdout))
		}
	}
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "tipyweb: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return report(stderr, serve(ctx, o, stdout, stderr))
}

func report(stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	var u usageError
	if errors.As(err, &u) {
		fmt.Fprintf(stderr, "tipyweb: %v\n", err)
		return 2
	}
	fmt.Fprintf(stderr, "tipyweb: %v\n", err)
	return 1
}
