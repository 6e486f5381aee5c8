# thumbq: every command a contributor or reviewer runs. `make help` lists them.
SHELL := /bin/bash
GO ?= go
IMAGES ?= worker/samples
OUT ?= out

export CDK_DISABLE_CLI_TELEMETRY := true
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.DEFAULT_GOAL := help
.PHONY: help run serve test test-worker test-deps build check chaos bench bench-readme bench-go bench-deps bench-worst fuzz

help: ## List the targets with one line each
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

## ---- worker -------------------------------------------------------------------------------
# make serve's listen address (ADDR=127.0.0.1:0 picks a free port), its output folder (apart from
# make run's, since each run clears its own) and its workers (WORKERS=0: attach thumbq work yourself).
ADDR ?= 127.0.0.1:4566
SERVE_OUT ?= out/serve
WORKERS ?= 1
# The binary records its commit (thumbq --version) even where GOFLAGS says -buildvcs=false; outside
# a git checkout there is none to record.
BUILDVCS := $(if $(wildcard .git),-buildvcs=true)

run: build ## Run the whole pipeline locally on emulated S3/SQS/SNS (IMAGES=dir OUT=dir; each run clears OUT of the last one's)
	bin/thumbq local --images "$(IMAGES)" --out "$(OUT)"

serve: build ## Keep the emulated endpoint up for any S3 client (ADDR=host:port, SERVE_OUT=dir, WORKERS=n, 0: attach your own)
	bin/thumbq local --serve --addr "$(ADDR)" --out "$(SERVE_OUT)" --workers "$(WORKERS)"

build: ## Build bin/thumbq (with the local emulators; the container image is built with -tags nolocal)
	@[ -x bin/thumbq ] || echo "Compiling bin/thumbq: the first build compiles the AWS SDK, the emulators and the image engine (about 4-5 minutes on 2 cores, 1 GB of memory; later builds take seconds)..."
	$(GO) build $(BUILDVCS) -o bin/thumbq ./worker

test: test-deps cdk-cli ## Run every test (worker and infra)
	$(GO) test ./...

# staticcheck is pinned to an exact version and run from the module proxy: nothing to install.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
check: ## Format, vet and lint every package (gofmt, go vet, staticcheck pinned at v0.8.2); CI runs it before the tests
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './infra/_cli/*')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt -w these files:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

test-worker: test-deps ## Run the worker's tests only
	$(GO) test ./worker/...

# make chaos's own flags, e.g. CHAOS_FLAGS='-uploads 500 -faults 0.4 -seed 3' (go run ./worker/chaos -h lists them).
CHAOS_FLAGS ?=
chaos: ## Fault run: 200 uploads, 3 thumbq work processes behind 20% injected faults, 40 SIGKILLs, 10 SIGTERMs (about 2 minutes)
	$(GO) run ./worker/chaos $(CHAOS_FLAGS)

# make bench's own flags, e.g. BENCH_FLAGS='-repeat 5 -workers 4' (go run ./worker/bench -h lists them).
BENCH_FLAGS ?=
BENCH_CMD = make bench$(if $(BENCH_FLAGS), BENCH_FLAGS='$(BENCH_FLAGS)')

bench: bench-deps ## Compare the engine with vipsthumbnail, ffmpeg, ImageMagick; pipeline throughput, latency (a few minutes)
	$(GO) run ./worker/bench -command "$(BENCH_CMD)" $(BENCH_FLAGS)

bench-readme: bench-deps ## make bench, then put its tables in README.md between the bench markers
	$(GO) run ./worker/bench -command "$(BENCH_CMD)" -readme README.md $(BENCH_FLAGS)

# make bench-worst's own flags, e.g. WORST_FLAGS='-mp 50 -only jpeg-cmyk' (go run ./worker/thumb/internal/worstcase/measure -h).
WORST_FLAGS ?= -row 20 -work 20
bench-worst: build ## Peak memory above idle and time of thumbq thumbnail on each format's generated 100 MP worst case (cwebp from Debian's webp for WebP)
	$(GO) run ./worker/thumb/internal/worstcase/measure -thumbq bin/thumbq $(WORST_FLAGS)

bench-go: ## Run the image engine's Go micro-benchmarks (go test -bench ./worker/thumb/...)
	$(GO) test -run '^$$' -bench . -benchmem ./worker/thumb/...

FUZZTIME ?= 1m
fuzz: ## Fuzz the decoders: JPEG against image/jpeg, PNG's inflater against compress/zlib, PNG against image/png, TIFF against x/image/tiff, GIF against image/gif, BMP against x/image/bmp, RLE BMP against a whole-image decoder, VP8 against x/image/vp8, VP8L against x/image/vp8l and WebP reduced against x/image/webp (FUZZTIME=1m each)
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./worker/thumb/jpegscale
	$(GO) test -run '^$$' -fuzz '^FuzzInflate$$' -fuzztime $(FUZZTIME) ./worker/thumb/internal/inflate
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./worker/thumb/pngscale
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./worker/thumb/tiffscale
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./worker/thumb/gifscale
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./worker/thumb/bmpscale
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeRLE$$' -fuzztime $(FUZZTIME) ./worker/thumb/bmpscale
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./worker/thumb/internal/vp8
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./worker/thumb/internal/vp8l
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./worker/thumb/webpscale


# The AWS CLI is the real client `thumbq local --serve` is tested with: Debian's package if missing.
test-deps:
	@command -v aws >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq awscli >/dev/null; \
	  else echo "note: no aws CLI and not root: the AWS CLI test will be skipped (apt-get install awscli)"; fi; }

# What make bench runs and measures on, from Debian's packages when missing: command:package.
# lomiri-wallpapers holds the photographs the inputs are made from (/usr/share/backgrounds).
BENCH_PACKAGES := vips:libvips-tools vipsthumbnail:libvips-tools ffmpeg:ffmpeg mogrify:imagemagick jpegtran:libjpeg-turbo-progs \
	heif-enc:libheif-examples avifenc:libavif-bin
BENCH_WALLPAPERS := /usr/share/backgrounds/Dragonfly_by_Bolly.jpg /usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg /usr/share/backgrounds/Bridge_by_Sander_Klootwijk.jpg

bench-deps: ## Install what make bench needs, if missing: libvips-tools ffmpeg imagemagick libjpeg-turbo-progs libheif-examples libavif-bin lomiri-wallpapers
	@missing=""; \
	for p in $(BENCH_PACKAGES); do command -v $${p%%:*} >/dev/null 2>&1 || missing="$$missing $${p#*:}"; done; \
	for f in $(BENCH_WALLPAPERS); do [ -f $$f ] || missing="$$missing lomiri-wallpapers"; done; \
	missing=$$(echo $$missing | tr ' ' '\n' | sort -u | tr '\n' ' '); \
	if [ -n "$${missing// /}" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "make bench: installing $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "make bench needs: apt-get install $$missing"; exit 1; fi; \
	fi

## ---- infra (CDK) ---------------------------------------------------------------------------
# The CDK CLI is pinned in infra/_cli/package-lock.json (a folder Go ignores: its name starts with _).
CDK_DIR := infra/_cli
CDK := $(CDK_DIR)/node_modules/.bin/cdk
CDK_DIA := $(CDK_DIR)/node_modules/.bin/cdk-dia
ENV ?= dev
DIFF ?= auto
SNAPSHOT = infra/stack/testdata/thumbq-$(ENV).template.json
# Optional email subscriptions, comma-separated: make deploy NOTIFY_EMAILS=a@example.com OPS_EMAILS=ops@example.com
CDK_CONTEXT = -c env=$(ENV) $(if $(NOTIFY_EMAILS),-c notifyEmails=$(NOTIFY_EMAILS)) $(if $(OPS_EMAILS),-c opsEmails=$(OPS_EMAILS))
.PHONY: cdk-cli synth diff bootstrap deploy destroy diagram snapshot lint-template simulate simulate-readme

cdk-cli: $(CDK) ## Install the pinned AWS CDK CLI and cdk-dia into infra/_cli (npm ci)

$(CDK): $(CDK_DIR)/package.json $(CDK_DIR)/package-lock.json
	cd $(CDK_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

synth: cdk-cli ## Synthesize both environments offline: cdk.out/dev and cdk.out/prod (cdk-nag runs too)
	@for env in dev prod; do \
	  $(CDK) synth -c env=$$env -o cdk.out/$$env --quiet || exit 1; \
	  echo "cdk.out/$$env/thumbq-$$env.template.json"; \
	done

diff: cdk-cli ## Show what `make deploy` would change (ENV=dev|prod): vs the deployed stack, or offline vs the snapshot
	@if [ "$(DIFF)" = deployed ] || { [ "$(DIFF)" != snapshot ] && aws sts get-caller-identity >/dev/null 2>&1; }; then \
	  $(CDK) diff $(CDK_CONTEXT); \
	else \
	  echo "Diff against the committed snapshot $(SNAPSHOT) (no AWS credentials found by the AWS CLI, or DIFF=snapshot; DIFF=deployed forces the other)"; \
	  echo "(the snapshot cannot know the worker image's hash: its line always shows as changed)"; \
	  $(CDK) diff -c env=$(ENV) --template $(SNAPSHOT); \
	fi

# ECS and Application Auto Scaling create their service-linked roles on first use, and a first
# deploy can fail while they appear (aws-cdk#4108): bootstrap creates them (an existing one is fine).
bootstrap: cdk-cli ## Prepare the account and region for CDK deployments, with the ECS and Auto Scaling service-linked roles (once)
	@for svc in ecs.amazonaws.com ecs.application-autoscaling.amazonaws.com; do \
	  out=$$(aws iam create-service-linked-role --aws-service-name $$svc 2>&1) && echo "created the service-linked role of $$svc" || \
	  { echo "$$out" | grep -q 'has been taken' && echo "service-linked role of $$svc: present" || { echo "$$out"; exit 1; }; }; \
	done
	$(CDK) bootstrap

# APPROVAL=never deploys without asking (CI, no terminal); broadening asks about new IAM or
# security-group permissions.
APPROVAL ?= broadening
deploy: cdk-cli ## Deploy the stack thumbq-ENV (ENV=dev|prod, APPROVAL=never in CI; needs AWS credentials, Docker, make bootstrap)
	$(CDK) deploy $(CDK_CONTEXT) --require-approval $(APPROVAL)

destroy: cdk-cli ## Delete the stack thumbq-ENV (ENV=dev|prod); dev's buckets go with their objects, prod's buckets and queues are kept
	$(CDK) destroy $(CDK_CONTEXT)

simulate: ## Replay traffic profiles against both templates' scaling (tasks, backlog, oldest message, $/month)
	$(GO) run ./infra/simulate

simulate-readme: ## make simulate, then put its tables in README.md between the simulate markers
	$(GO) run ./infra/simulate -readme README.md

lint-template: ## Run AWS's cfn-lint on both synthesized templates (make test runs it too)
	CDK_VALIDATION=false $(GO) test ./infra/stack -run 'TestCfnLint' -v -count=1

snapshot: ## Accept the synthesized templates as the new snapshots (after reviewing `make diff`)
	$(GO) test ./infra/stack -run Snapshot -update

diagram: cdk-cli ## Regenerate from the synthesized dev app docs/flow.{dot,svg,png} (the data flow: go run ./docs/diagram) and docs/architecture.{dot,png} (cdk-dia's inventory)
	@command -v dot >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then echo "make diagram: installing Graphviz (Debian's graphviz)"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null; \
	  else echo "Graphviz is needed: apt-get install graphviz (or brew install graphviz)"; exit 1; fi; }
	$(CDK) synth -c env=dev -o cdk.out/dev --quiet
	@mkdir -p docs cdk.out/diagram
	$(GO) run ./docs/diagram -template cdk.out/dev/thumbq-dev.template.json -o docs/flow.dot
	dot -Tsvg docs/flow.dot -o docs/flow.svg
	dot -Gdpi=72 -Tpng docs/flow.dot -o docs/flow.png
	@ls -l docs/flow.svg docs/flow.png
	$(CDK_DIA) --tree cdk.out/dev/tree.json --include thumbq-dev --target cdk.out/diagram/architecture.png >/dev/null
	sed 's#"[^"]*/$(CDK_DIR)/node_modules/cdk-dia/icons/#"$(CDK_DIR)/node_modules/cdk-dia/icons/#' cdk.out/diagram/architecture.dot > docs/architecture.dot
	dot -Gdpi=60 -Tpng docs/architecture.dot -o docs/architecture.png 2>/dev/null
	@ls -l docs/architecture.png
