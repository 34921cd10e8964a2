# `make dist`: every artifact a user installs, in dist/ (flat), with SHA256SUMS.
# `make test-dist` (part of `make test`): installs each one outside the repository and uses it
# (tests/dist). The per-ecosystem parts live in mk/dist-python.mk (wheel, sdist) and
# mk/dist-npm.mk (npm tarballs); this file adds the crate, the CLI tarball and the container
# archive, and ties them together.
.PHONY: dist test-dist dist-crate dist-cli dist-container dist-sums
TESTS += test-dist

DIST ?= $(ROOT)/dist
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' $(ROOT)/Cargo.toml | head -n 1)
HOST_TRIPLE := $(shell rustc -vV 2>/dev/null | sed -n 's/^host: //p')
CLI_NAME := credit-$(VERSION)-$(HOST_TRIPLE)
CONTAINER_ARCHIVE := $(DIST)/credit-$(VERSION).oci.tar

$(DIST):
	mkdir -p $(DIST)

dist: dist-python dist-npm dist-crate dist-cli dist-container
	@$(MAKE) --no-print-directory dist-sums
	@echo "dist/:"; ls -l $(DIST)

dist-sums: | $(DIST)
	cd $(DIST) && rm -f SHA256SUMS && find . -maxdepth 1 -type f ! -name SHA256SUMS -printf '%f\n' \
	  | LC_ALL=C sort | xargs sha256sum > SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS

# credit-core as crates.io gets it. `cargo package` builds the packaged sources once (verify);
# --allow-dirty only matters on a working tree (CI packages a clean clone).
dist-crate: | $(DIST)
	$(CARGO) package -p credit-core --allow-dirty --quiet
	rm -f $(DIST)/credit-core-*.crate
	cp target/package/credit-core-$(VERSION).crate $(DIST)/

# The CLI for a laptop or a server: the binary (shipped model inside), LICENSE and a short README.
dist-cli: $(CREDIT) | $(DIST)
	rm -rf $(WORK)/dist-cli && mkdir -p $(WORK)/dist-cli/$(CLI_NAME)
	cp $(CREDIT) $(WORK)/dist-cli/$(CLI_NAME)/credit
	strip $(WORK)/dist-cli/$(CLI_NAME)/credit 2>/dev/null || true
	cp LICENSE $(WORK)/dist-cli/$(CLI_NAME)/
	cp service/README.dist.md $(WORK)/dist-cli/$(CLI_NAME)/README.md
	rm -f $(DIST)/credit-*-$(HOST_TRIPLE).tar.gz
	tar --owner=0 --group=0 --numeric-owner -C $(WORK)/dist-cli -czf $(DIST)/$(CLI_NAME).tar.gz $(CLI_NAME)

# The container image with the real web page (runtime-prebuilt around the host's binary), saved
# as an OCI archive: `podman load -i` / `docker load -i` it, or push it to a registry.
dist-container: $(CREDIT) web container-tools | $(DIST) $(WORK)
	$(PODMAN_ENV) tests/container/base-image.sh $(CONTAINER_WORK)
	$(PODMAN_ENV) podman $(PODMAN_OPTS) build --pull=never --format docker --target runtime-prebuilt \
	  --build-arg WEB_DIST=web/dist -t localhost/credit:$(VERSION) .
	rm -f $(CONTAINER_ARCHIVE)
	$(PODMAN_ENV) podman $(PODMAN_OPTS) save --format oci-archive -o $(CONTAINER_ARCHIVE) localhost/credit:$(VERSION)
	@echo "container image localhost/credit:$(VERSION): $$(du -h $(CONTAINER_ARCHIVE) | cut -f1) as an OCI archive" \
	  "($$($(PODMAN_ENV) podman $(PODMAN_OPTS) image inspect --format '{{.Size}}' localhost/credit:$(VERSION)) bytes unpacked)"

# Installs every artifact outside the repository and uses it (see tests/dist/conftest.py).
test-dist: dist dist-npm-check-deps $(VENV)/.stamp-container
	$(VENV)/bin/ruff check tests/dist
	$(PODMAN_ENV) CREDIT_DIST=$(DIST) CREDIT_VERSION=$(VERSION) CREDIT_WORK=$(WORK) PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 \
	  $(PY) -m pytest -q -rs -p no:cacheprovider --junitxml=$(JUNIT)/dist.xml tests/dist
