# tipy: the two commands are `make run` and `make test`. `make help` lists the rest.

GO        ?= go
FUZZTIME  ?= 60s
PKGS      := ./...
# Debian packages the tests use: tshark reads our pcapng files; iproute2, ping, arping, tcpdump,
# netcat, curl and iperf3 are the kernel-side peers of the interop tests.
DEB_TOOLS := tshark:tshark tcpdump:tcpdump ip:iproute2 ping:iputils-ping arping:iputils-arping nc:netcat-openbsd curl:curl iperf3:iperf3

.PHONY: help run test test-go lint vet fmt-check bench fuzz deps tipyweb clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

run: tipyweb ## start the embedded lab on http://127.0.0.1:8080
	./bin/tipyweb $(ARGS)

tipyweb: ## build bin/tipyweb
	$(GO) build -o bin/tipyweb ./cmd/tipyweb

test: deps lint test-go ## vet, gofmt, every Go test with the race detector (fuzz seeds included)

test-go:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

lint: vet fmt-check ## go vet and gofmt

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go') | grep -v '_templ.go$$' || true); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

bench: ## run every benchmark with allocation counts
	$(GO) test -run '^$$' -bench . -benchmem -count=1 $(PKGS)

fuzz: ## run every fuzz target for FUZZTIME (default 60s) each
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

deps: ## install the Debian tools the tests use when missing (needs root; skipped otherwise)
	@missing=""; for pair in $(DEB_TOOLS); do cmd=$${pair%%:*}; pkg=$${pair#*:}; \
	  command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing:$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "note: missing$$missing (not root: tests that need them will skip)"; fi; \
	fi

clean: ## remove build outputs
	rm -rf bin
