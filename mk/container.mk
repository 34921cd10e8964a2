# Container image (Dockerfile) and Cloud Run deployment (deploy/cloudrun): hadolint, shellcheck,
# manifest checks, and the runtime image built and run under podman (no Docker engine needed).
.PHONY: test-container container-image container-run container-tools
TESTS += test-container

CONTAINER_WORK := $(WORK)/container
# The tests keep their own podman storage under .work (no clash with other podman users).
PODMAN_OPTS := --root $(CONTAINER_WORK)/storage --runroot $(CONTAINER_WORK)/run
PODMAN_ENV := CONTAINERS_CONF=$(ROOT)/tests/container/containers.conf PODMAN_OPTS="$(PODMAN_OPTS)"

$(VENV)/.stamp-container: requirements/container.txt | $(VENV)/bin/python
	$(PIP) install -q -r requirements/container.txt
	@touch $@

container-tools:
	scripts/apt-ensure.sh podman runc debootstrap shellcheck

# First run on a fresh machine: ~2 min of debootstrap (cached in .work/container as a tarball).
test-container: $(CREDIT) $(VENV)/.stamp-container container-tools | $(WORK)
	$(PODMAN_ENV) PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 CREDIT=$(CREDIT) CREDIT_WORK=$(WORK) $(PY) -m pytest -q -rs -p no:cacheprovider \
	  --junitxml=$(JUNIT)/container.xml tests/container

# `localhost/credit:latest` in the project's podman storage; `make container-run` starts it on :8080.
container-image: $(CREDIT) container-tools | $(WORK)
	$(PODMAN_ENV) tests/container/base-image.sh $(CONTAINER_WORK)
	$(PODMAN_ENV) bash -c 'web=web/dist; [ -f web/dist/index.html ] || web=tests/container/web-standin; \
	  podman $(PODMAN_OPTS) build --pull=never --format docker --target runtime-prebuilt \
	    --build-arg WEB_DIST=$$web -t localhost/credit:latest .'

# Opt-in, slow (a full release build inside the container): the Dockerfile's default target, whose
# Rust builder stage compiles from source (crates.io must be reachable from build containers).
.PHONY: test-container-source
test-container-source: $(VENV)/.stamp-container container-tools | $(WORK)
	$(PODMAN_ENV) CONTAINER_BUILD=source PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 CREDIT=$(CREDIT) CREDIT_WORK=$(WORK) \
	  nice -n 10 $(PY) -m pytest -q -p no:cacheprovider tests/container/test_container.py

container-run: container-image
	$(PODMAN_ENV) podman $(PODMAN_OPTS) run --rm -p 127.0.0.1:$${PORT:-8080}:8080 localhost/credit:latest
