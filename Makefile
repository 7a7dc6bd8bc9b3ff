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

.PHONY: all build deps testenv-up testenv-down testenv-reset test test-unit lint demo bench report-screenshot serve-screenshot clean

all: build

deps:
	@bash testenv/scripts/install-deps.sh

# The shipped binary never holds the crash-test hook (docs/engine.md), not
# even when GOFLAGS asks for its build tag.
build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(HANDOVER) ./cmd/handover
	@if grep -q HANDOVER_CRASH_AT $(HANDOVER); then echo "$(HANDOVER) holds the crash-test hook HANDOVER_CRASH_AT: build it without -tags handover_crashtest" >&2; rm -f $(HANDOVER); exit 1; fi
	$(GO) build -o $(TESTENV) ./testenv/cmd/testenv

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
	$(TESTENV) down || true; \
	exit $$rc

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
	@echo
	@echo "To watch the estate from now on: $(HANDOVER) serve playbooks/demo.yaml   (then open http://127.0.0.1:9817/)"

bench: deps build
	bash bench/run.sh

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
