# The Python artifacts of `make dist`: the abi3 manylinux wheel and the sdist of `credit-default`,
# written into $(DIST); `make test-dist-python` installs each one outside the repository
# (tests/dist/test_python.py).
.PHONY: dist-python test-dist-python
DIST ?= $(ROOT)/dist
# The wheel's own target dir: a build with other linker settings (plain `cargo build`) would
# otherwise invalidate it.
PYDIST_TARGET := $(ROOT)/target/dist-python
# `make python` (the wheel the tests install) and `make dist` build the wheel with this one
# command, so the wheel that is tested is the one that ships and the release build is compiled
# once (a second full build cost `make test` a minute and a half on a 2-core machine).
# `PY_WHEEL_PORTABLE=` builds a plain wheel for this machine only (no zig needed).
PY_WHEEL_PORTABLE ?= --zig --compatibility manylinux_2_17
PY_WHEEL_BUILD = cd bindings-python && PATH="$(VENV)/bin:$$PATH" $(VENV)/bin/maturin build --release --quiet \
	$(PY_WHEEL_PORTABLE) -i $(PY) --target-dir $(PYDIST_TARGET)

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
	$(PY_WHEEL_BUILD) -o $(DIST)
	cd bindings-python && $(VENV)/bin/maturin sdist -o $(DIST)
	@ls -l $(DIST)/credit_default-*

test-dist-python: $(VENV)/.stamp-dist-python
	CREDIT_DIST=$(DIST) $(PY) -m pytest -q -rA tests/dist/test_python.py
