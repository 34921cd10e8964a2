# The Python artifacts of `make dist`: the abi3 manylinux wheel and the sdist of `credit-default`,
# written into $(DIST); `make test-dist-python` installs each one outside the repository
# (tests/dist/test_python.py).
.PHONY: dist-python test-dist-python
DIST ?= $(ROOT)/dist
# Its own target dir: the zig linker settings would otherwise invalidate `make python`'s build.
PYDIST_TARGET := $(ROOT)/target/dist-python

$(VENV)/.stamp-dist-python: requirements/dist-python.txt | $(VENV)/bin/python
	$(PIP) install -q -r requirements/dist-python.txt
	@touch $@

# Wheel: plain `maturin build --compatibility manylinux_2_17` fails on this machine (glibc 2.36:
# the library needs GLIBC_2.25..2.34 / libm GLIBC_2.29 symbol versions), so it links with zig
# (PyPI `ziglang`, found through the venv's python3 on PATH) against glibc 2.17 stubs. maturin
# audits the result itself; the tag is manylinux2014 / manylinux_2_17 x86_64.
# Sdist: the workspace subset maturin packs (root Cargo.toml/Cargo.lock, credit-core with
# model/default.json, bindings-python, LICENSE, README); pip builds it with cargo.
dist-python: $(VENV)/.stamp-dist-python
	mkdir -p $(DIST)
	rm -f $(DIST)/credit_default-*.whl $(DIST)/credit_default-*.tar.gz
	cd bindings-python && PATH="$(VENV)/bin:$$PATH" $(VENV)/bin/maturin build --release --quiet \
		--zig --compatibility manylinux_2_17 -i $(PY) --target-dir $(PYDIST_TARGET) -o $(DIST)
	cd bindings-python && $(VENV)/bin/maturin sdist -o $(DIST)
	@ls -l $(DIST)/credit_default-*

test-dist-python: $(VENV)/.stamp-dist-python
	CREDIT_DIST=$(DIST) $(PY) -m pytest -q -rA tests/dist/test_python.py
