# handover — see README.md.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)
export HANDOVER_TESTENV_DIR ?= /var/tmp/handover-testenv

GO      ?= go
HOSTS   ?= 5
LDAP_USERS ?= 50
TESTENV := bin/testenv
HANDOVER := bin/handover
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all build package fuzz deps testenv-up testenv-down testenv-reset test test-crash test-unit lint demo bench bench-mail report-screenshot serve-screenshot clean

all: build

deps:
	@bash testenv/scripts/install-deps.sh

# The shipped binary never holds the crash-test hook (docs/engine.md), not
# even when GOFLAGS asks for its build tag.
build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(HANDOVER) ./cmd/handover
	@if grep -q -e HANDOVER_CRASH_AT -e HANDOVER_CRASH_IN $(HANDOVER); then echo "$(HANDOVER) holds a crash-test hook (HANDOVER_CRASH_AT, HANDOVER_CRASH_IN): build it without -tags handover_crashtest" >&2; rm -f $(HANDOVER); exit 1; fi
	$(GO) build -o $(TESTENV) ./testenv/cmd/testenv

# .deb and .rpm in bin/ (nfpm, pinned, from the Go module proxy): the
# binary, its man page and shell completions, the example playbook, docs.
NFPM := $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.48.0
# A package version must start with a digit: a tag (v1.2.3 -> 1.2.3), else
# 0.0.0+git.<commit>.
PKG_VERSION ?= $(shell echo '$(VERSION)' | sed -E 's/^v//; s/-/./g; /^[0-9]/!s/^/0.0.0+git./')
package: build
	rm -rf bin/pkg && mkdir -p bin/pkg
	cp $(HANDOVER) bin/pkg/handover
	bin/pkg/handover man | gzip -9n > bin/pkg/handover.8.gz
	bin/pkg/handover completion bash > bin/pkg/handover.bash
	bin/pkg/handover completion zsh > bin/pkg/_handover
	bin/pkg/handover completion fish > bin/pkg/handover.fish
	PKG_VERSION='$(PKG_VERSION)' PKG_ARCH=$$($(GO) env GOARCH) $(NFPM) package -f cmd/handover/nfpm.yaml -p deb -t bin/
	PKG_VERSION='$(PKG_VERSION)' PKG_ARCH=$$($(GO) env GOARCH) $(NFPM) package -f cmd/handover/nfpm.yaml -p rpm -t bin/
	@ls -l bin/*.deb bin/*.rpm

testenv-up: deps build
	$(TESTENV) up -hosts $(HOSTS) -ldap-users $(LDAP_USERS)

testenv-down: build
	$(TESTENV) down

testenv-reset: build
	$(TESTENV) reset

# Everything on a fresh Debian 12 machine: packages, binaries, the testenv,
# every test including the integration tests against the real servers, and
# the testenv stopped again whatever happened. A testenv that was already
# up (after `make demo`, say) is put back to its planted state first.
test: deps build
	@set -o pipefail; \
	was_up=0; [ -f "$$HANDOVER_TESTENV_DIR/env.json" ] && was_up=1; \
	$(TESTENV) up -hosts $(HOSTS) -ldap-users $(LDAP_USERS) || { $(TESTENV) down; exit 1; }; \
	if [ $$was_up = 1 ]; then $(TESTENV) reset || { $(TESTENV) down; exit 1; }; fi; \
	rc=0; $(GO) test -race -count=1 -p 1 -timeout 40m ./... || rc=$$?; \
	$(MAKE) --no-print-directory fuzz || rc=1; \
	$(TESTENV) down || true; \
	exit $$rc

# The full kill matrix (docs/engine.md, "Threat model"): the real binary
# killed at every instant of every kind of change, for every connector on
# its real servers, then resumed and proven. In-flight points are sampled
# afresh each time; HANDOVER_KILL_MATRIX_SEED=N replays a sample. An estate
# already up is used as it is (each test resets what it changes) and left
# up; else one is started and stopped again. `make test` runs a slice.
test-crash: deps build
	@set -o pipefail; \
	was_up=0; [ -f "$$HANDOVER_TESTENV_DIR/env.json" ] && was_up=1; \
	if [ $$was_up = 0 ]; then $(TESTENV) up -hosts $(HOSTS) -ldap-users $(LDAP_USERS) || { $(TESTENV) down; exit 1; }; fi; \
	rc=0; HANDOVER_KILL_MATRIX=full $(GO) test -count=1 -p 1 -timeout 240m -v -run '^TestKillMatrix$$' ./connectors/ssh/ ./connectors/ldap/ ./connectors/mail/ ./connectors/vault/ 2>&1 | tee bin/test-crash.log | grep -E '^(=== RUN|--- |ok|FAIL|PASS)|kill matrix' || rc=$$?; \
	$(GO) test -count=1 -p 1 -timeout 30m -run '^(TestCrashAtEachStep|TestCrashRecoveryOnRealHost|TestShippedBinaryHasNoCrashHook)$$' ./handover/engine/ ./cmd/handover/ || rc=1; \
	if [ $$was_up = 0 ]; then $(TESTENV) down || true; fi; \
	exit $$rc

# Every fuzz target for FUZZTIME each, FUZZJOBS targets at a time, each
# with FUZZWORKERS workers: the parsers of what hosts, servers and files
# say never panic. A failing target prints its output and the input that
# broke it (kept under testdata/fuzz/ by go test).
FUZZTIME ?= 10s
FUZZJOBS ?= 2
FUZZWORKERS ?= 1
fuzz:
	@set -e; rm -rf /tmp/handover-fuzz && mkdir -p /tmp/handover-fuzz; \
	for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do echo "$$pkg $$f"; done; \
	done > /tmp/handover-fuzz/targets; \
	echo "fuzzing $$(wc -l < /tmp/handover-fuzz/targets) targets for $(FUZZTIME) each, $(FUZZJOBS) at a time"; \
	xargs -P $(FUZZJOBS) -L 1 sh -c 'out=/tmp/handover-fuzz/$$1.out; \
	  if $(GO) test -run "^$$" -fuzz "^$$1\$$" -fuzztime $(FUZZTIME) -parallel $(FUZZWORKERS) $$0 >$$out 2>&1; then echo "fuzz $$0 $$1: ok"; \
	  else cat $$out; echo "fuzz $$0 $$1: FAILED"; exit 255; fi' < /tmp/handover-fuzz/targets

test-unit:
	$(GO) test -race -short ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

demo: testenv-up
	@# A demo shows a whole handover: the estate back to its planted state,
	@# a fresh state directory (the previous demo's reports are kept aside).
	$(TESTENV) reset
	@if [ -d playbooks/.handover/demo ]; then rm -rf playbooks/.handover/demo.previous; mv playbooks/.handover/demo playbooks/.handover/demo.previous; fi
	$(HANDOVER) run playbooks/demo.yaml --yes
	@# Then the dossier goes to the incoming provider, whose demo key is made here.
	@mkdir -p playbooks/.handover/demo/incoming
	ssh-keygen -q -t ed25519 -N '' -C contact@nouvelle-infogerance.test -f playbooks/.handover/demo/incoming/id_ed25519
	$(HANDOVER) dossier export playbooks/demo.yaml -R playbooks/.handover/demo/incoming/id_ed25519.pub -o playbooks/.handover/demo/dossier.age
	@echo "dsi@mairie-saint-exemple.test $$(cat $$(sed -n 's/^  key: //p' playbooks/demo.yaml).pub)" > playbooks/.handover/demo/incoming/client_signers
	@echo
	@echo "The incoming provider opens the dossier with its key and the client's signing key:"
	@echo "  $(HANDOVER) dossier open playbooks/.handover/demo/dossier.age --identity playbooks/.handover/demo/incoming/id_ed25519 --allowed-signers playbooks/.handover/demo/incoming/client_signers --signer contact@nouvelle-infogerance.test"
	@echo "(add --import STORE.yaml to import the credentials into its own store; see docs/dossier-export.md)"
	@echo
	@echo "To watch the estate from now on: $(HANDOVER) serve playbooks/demo.yaml   (then open http://127.0.0.1:9817/)"

bench: deps build
	bash bench/run.sh

# The mail measure alone (MAILBOXES, default 200): bench/mail.sh.
bench-mail: deps build
	bash bench/mail.sh

# Scale and load (docs/scale.md): on a testenv instance of its own
# (LOAD_DIR, which does not touch the shared estate) with LOAD_HOSTS light
# hosts (sshd only, 127.0.16.0/20): a 100-host run under a 256 MB memory
# limit (GOMEMLIMIT and a memory cgroup) with nothing lost (check proves
# every stored credential logs in); dry inventories of 100 and LOAD_HOSTS
# hosts within the documented memory bound (LOAD_BOUND: BASE+PERHOST MB of
# peak RSS, no limit); the LOAD_HOSTS inventory again under 256 MB; and
# LOAD_HOSTS hosts run as 10 shards, merged and verified. About 10 minutes
# on 2 cores. Not part of `make test`.
LOAD_DIR ?= /var/tmp/handover-testenv-scale
LOAD_HOSTS ?= 1000
LOAD_BOUND ?= 40+0.5
.PHONY: test-load
test-load: build
	@set -e; export HANDOVER_TESTENV_DIR=$(LOAD_DIR); w=$$(mktemp -d /var/tmp/handover-load-XXXX); \
	$(GO) build -o bin/scaleload ./bench/cmd/scaleload; \
	$(TESTENV) reset -only lightfleet -light-hosts $(LOAD_HOSTS); \
	bin/scaleload -hosts 100 -mode run -limit 256 -out $$w/run-100; \
	bin/scaleload -hosts 100 -mode inventory -limit 0 -bound $(LOAD_BOUND) -out $$w/inventory-100; \
	bin/scaleload -hosts $(LOAD_HOSTS) -mode inventory -limit 0 -bound $(LOAD_BOUND) -out $$w/inventory-$(LOAD_HOSTS); \
	bin/scaleload -hosts $(LOAD_HOSTS) -mode inventory -limit 256 -out $$w/inventory-$(LOAD_HOSTS)-256; \
	$(TESTENV) reset -only lightfleet -light-hosts $(LOAD_HOSTS); \
	bin/scaleload -hosts $(LOAD_HOSTS) -mode run -shards 10 -limit 256 -out $$w/shards; \
	$(TESTENV) down -only lightfleet; \
	echo "test-load: passed; records in $$w/*/records.json"

report-screenshot: build
	bash docs/report-screenshot.sh

# The dashboard screenshot of docs/serve.md, taken by the browser test
# against the test estate.
serve-screenshot: build
	rm -rf .serve-screenshot && mkdir -p .serve-screenshot
	$(GO) test -count=1 -p 1 -timeout 20m ./cmd/handover/ -run TestServeDashboardInBrowser -artifacts -outputdir .serve-screenshot
	mkdir -p docs/img
	cp "$$(find .serve-screenshot -name dashboard.png | head -n 1)" docs/img/serve-dashboard.png
	rm -rf .serve-screenshot

clean:
	rm -rf bin
