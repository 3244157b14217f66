# Orbit's build. `make run` serves the example scripts; `make test` runs
# every test, building the WebAssembly modules the tests need.

GO       ?= go
BIN      := bin
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
SHOP     ?= 127.0.0.1:7078
# Where make run's sidecar listens, keeps its data and finds its plugins.
ADDR     ?= 127.0.0.1:7077
DATA     ?= data/orbit.db
PLUGINS  ?= plugins.d
FUZZTIME ?= 30s
# The crash test's large size (make test runs a small one).
CRASH_INSTANCES ?= 300
CRASH_KILLS     ?= 60
CRASH_SEED      ?= 0
# How long make soak runs.
DURATION ?= 10m

.PHONY: build test run run-cluster lint plugins bench clean conformance browser screenshots fuzz php soak

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/orbit ./cmd/orbit
	$(GO) build -trimpath -o $(BIN)/shopd ./examples/shopd

# Example plugins, compiled from source: Go ones with Go's own wasip1
# target, C ones with clang and wasi-libc, which plugins/toolchain.sh
# installs with apt-get when they are missing (quietly skipped when present).
plugins:
	@plugins/build.sh plugins.d

# The console's browser test drives Debian's Chromium over the DevTools
# protocol; make test installs it when it is missing (CI runs as root on a
# clean Debian machine) and then requires it, so the test cannot skip.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
		echo "make: installing Chromium for the console's browser test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The PHP client's tests (clients/php) run PHPUnit against the real sidecar;
# make test installs Debian's PHP, its curl extension and PHPUnit when they
# are missing, and then requires them, so the test cannot skip.
php:
	@{ command -v php >/dev/null 2>&1 && command -v phpunit >/dev/null 2>&1 && php -m | grep -qx curl; } || { \
		echo "make: installing PHP and PHPUnit for the PHP client's tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq php-cli php-curl phpunit >/dev/null; }

test: plugins browser php
	$(GO) vet ./...
	ORBIT_REQUIRE_BROWSER=1 ORBIT_REQUIRE_PHP=1 $(GO) test -race -timeout 15m ./...

# Retakes the README's pictures of the console (docs/images) with the
# browser test, so that they show the console as it is.
screenshots: browser
	ORBIT_REQUIRE_BROWSER=1 ORBIT_UPDATE_SCREENSHOTS=1 $(GO) test -count=1 -run '^TestConsoleInBrowser$$' ./cmd/orbit/

# Serves scripts/ with an embedded store, next to shopd, the stand-in for
# the services the example order workflow calls. Both run in the
# background of one shell that waits for the sidecar: a signal (SIGTERM
# from make, or Ctrl-C) runs the trap at once and stops both, where a
# shell waiting for a foreground child would hold the trap until the
# sidecar ended by itself.
run: build plugins
	@trap 'kill $$orbit $$shop 2>/dev/null; wait $$orbit' INT TERM; \
	trap 'kill $$shop 2>/dev/null' EXIT; \
	$(BIN)/shopd -listen $(SHOP) & shop=$$!; \
	SHOP_URL=http://$(SHOP) $(BIN)/orbit serve --listen $(ADDR) --scripts scripts --plugins $(PLUGINS) --data $(DATA) \
		--script-env SHOP_URL,LOYALTY_URL & orbit=$$!; \
	wait $$orbit

# Tries the scale-out mode: a 3-node NATS cluster and three sidecars on
# ports 7077-7079 in one process (orbit devcluster), next to shopd on 7080.
run-cluster: build plugins
	@trap 'kill $$orbit $$shop 2>/dev/null; wait $$orbit' INT TERM; \
	trap 'kill $$shop 2>/dev/null' EXIT; \
	$(BIN)/shopd -listen 127.0.0.1:7080 & shop=$$!; \
	SHOP_URL=http://127.0.0.1:7080 $(BIN)/orbit devcluster --sidecars 3 --dir data/devcluster -- \
		--scripts scripts --plugins $(PLUGINS) --script-env SHOP_URL,LOYALTY_URL & orbit=$$!; \
	wait $$orbit

# Pass rates of the Amazon States Language conformance cases, by category
# (docs/compatibility.md). ORBIT_ASL_CASES=DIR measures another corpus.
conformance:
	@$(GO) test -count=1 -run '^TestConformance$$' -v ./asl/ | sed -n 's/^ *//; /^category/,/^JSONata categories/p'

# The real binary killed with SIGKILL CRASH_KILLS times (at random moments,
# inside commits, in the middle of calls) under CRASH_INSTANCES instances,
# then every invariant checked; one summary line. CRASH_SEED replays a run.
.PHONY: crash-test
crash-test:
	$(GO) test -count=1 -v -timeout 60m -run '^TestCrash$$' ./internal/crashtest \
		-crash.instances $(CRASH_INSTANCES) -crash.kills $(CRASH_KILLS) -crash.seed $(CRASH_SEED)

# Runs every fuzz target (each Fuzz function of the module) for FUZZTIME.
# `make test` runs only their committed seed corpora (testdata/fuzz/); an
# input that fails is written there, to be committed with its fix.
fuzz:
	@set -e; for file in $$(grep -rlE --include='*_test.go' '^func Fuzz' .); do \
		for target in $$(sed -nE 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/p' $$file); do \
			echo "fuzz: $$(dirname $$file) $$target for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) ./$$(dirname $$file); \
		done; \
	done

# Runs the built orbit for DURATION at a steady rate of mixed workflows
# with a short retention, prints RSS, goroutines, data file size, open
# files and p99 every minute, and fails unless RSS and the data file
# level off (internal/soak). Not part of make test or CI. The table and
# chart land in soak-out/.
soak: build
	$(GO) run ./cmd/soak -orbit $(BIN)/orbit -duration $(DURATION) -out soak-out

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./runtime/... ./store/... ./scripting/... ./httpcall/... ./plugins/...
	$(BIN)/orbit bench

clean:
	rm -rf $(BIN) data soak-out
