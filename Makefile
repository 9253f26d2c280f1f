# tipy: the two commands are `make run` and `make test`. `make help` lists the rest.

GO        ?= go
FUZZTIME  ?= 60s
PKGS      := ./...
# Debian packages the tests use: tshark reads our pcapng files; iproute2, ping, arping, tcpdump,
# netcat, curl and iperf3 are the kernel-side peers of the interop tests (ethtool turns the offloads of
# bench-compare's veth pair off); nodejs and npm build the
# dashboard's front end and run Playwright, which drives Debian's chromium (never a downloaded browser).
DEB_TOOLS := tshark:tshark tcpdump:tcpdump ip:iproute2 iptables:iptables ping:iputils-ping arping:iputils-arping nc:netcat-openbsd curl:curl iperf3:iperf3 ethtool:ethtool \
             node:nodejs npm:npm chromium:chromium

.PHONY: help run netns-lab test test-go lint vet fmt-check bench bench-compare fuzz sim-scale deps tipyweb clean web-assets web-fresh e2e screenshots

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

run: tipyweb ## start the embedded lab on http://127.0.0.1:8080
	./bin/tipyweb $(ARGS)

netns-lab: tipyweb ## (root) tipy on a TAP device in a private namespace, the kernel as peer; removed on exit
	./bin/tipyweb netns-lab $(ARGS)

tipyweb: web-assets ## build bin/tipyweb (front end included)
	$(GO) build -o bin/tipyweb ./cmd/tipyweb

test: deps lint test-go e2e ## vet, gofmt, every Go test with the race detector (fuzz seeds included), Playwright

e2e/node_modules/.installed: e2e/package.json e2e/package-lock.json
	cd e2e && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
	touch $@

# The dashboard's front end: templ pages (templates/*_templ.go) and the esbuild bundle (static/dist),
# both committed so that `go build` works without Node; web-assets regenerates them (without npm the
# committed bundle is used as it is).
web-assets: ## build the dashboard's pages and JS/CSS bundle
	$(GO) tool templ generate -path templates
	@if ! command -v npm >/dev/null 2>&1; then echo "note: npm missing: using the committed static/dist (make deps installs nodejs and npm)"; \
	elif [ ! -f static/node_modules/.installed ] || [ static/package-lock.json -nt static/node_modules/.installed ]; then \
	  (cd static && npm ci --no-audit --no-fund && touch node_modules/.installed && npm run --silent build); \
	else (cd static && npm run --silent build); fi

# In CI the committed pages and bundle must be what their sources build.
web-fresh: web-assets
	@if [ -n "$$CI" ] && [ -n "$$(git status --porcelain -- templates static/dist 2>/dev/null)" ]; then \
	  echo "templates/*_templ.go or static/dist are stale: run make web-assets and commit them"; \
	  git status --porcelain -- templates static/dist; exit 1; fi

e2e: web-fresh e2e/node_modules/.installed ## the Playwright suite in Debian's chromium
	cd e2e && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npx playwright test

screenshots: web-fresh e2e/node_modules/.installed ## retake the README's screenshots (docs/screenshots/*.png) in a fresh lab
	cd e2e && SCREENSHOTS=1 PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npx playwright test tests/screenshots.spec.ts

test-go:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

lint: vet fmt-check ## go vet and gofmt

vet:
	$(GO) vet $(PKGS)
	cd bench && $(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go') | grep -v '_templ.go$$' || true); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

bench: ## run every benchmark with allocation counts
	$(GO) test -run '^$$' -bench . -benchmem -count=1 $(PKGS)

bench-compare: ## tipy beside gVisor's netstack and the kernel (BENCHMARKS.md; ARGS="-size 64MiB -only 1,3")
	cd bench && $(GO) run . $(ARGS)

sim-scale: ## the full 500-seed TCP simulation (make test runs 40 under the race detector)
	$(GO) test -count=1 -run 'TestTCPSimScale' ./stack/

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
