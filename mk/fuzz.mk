# Fuzzing (fuzz/, issue #13): libFuzzer targets for the applicant JSON validator, the two model
# artifact readers (serde and the browser's lean one, differentially), a `credit score` CSV and an
# HTTP body through /predict. Their checks live in fuzz/src/ as plain functions, so two things
# run them:
#
#   make fuzz              each target for FUZZ_SECONDS seconds (default 600), on nightly with
#                          cargo-fuzz; not part of `make test` or CI (it is long and needs nightly).
#                          FUZZ_TARGETS picks targets, FUZZ_ARGS adds libFuzzer flags.
#   make test-fuzz-replay  every committed input under fuzz/regressions/<target>/ (the inputs
#                          that found bugs, and seeds) through the same checks, on stable: in
#                          `make test`, so a fixed bug stays fixed.
#
# The working corpus grows in fuzz/corpus/<target>/ (seeded from the regressions) and crashes
# land in fuzz/artifacts/<target>/, both ignored by git: copy an input worth keeping into
# fuzz/regressions/<target>/ once its bug is fixed.
.PHONY: fuzz test-fuzz-replay fuzz-tools
TESTS += test-fuzz-replay

FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?= applicant_json artifact_readers score_csv predict_http
FUZZ_ARGS ?=
# cargo-fuzz needs a nightly toolchain (sanitizer and coverage flags); rustup's name for it.
FUZZ_TOOLCHAIN ?= nightly
FUZZ_CARGO := $(CARGO) +$(FUZZ_TOOLCHAIN)

# The fuzz crate is its own workspace (not a member of the root one), hence --manifest-path.
# Lint is here too: the root `lint` target covers the workspace only.
# They share the root target directory: `make lint`'s clippy has already checked the
# dependencies there, so the fuzz crate's clippy re-checks only what its features change.
test-fuzz-replay:
	$(CARGO) fmt --manifest-path fuzz/Cargo.toml --check
	CARGO_TARGET_DIR=$(ROOT)/target $(CARGO) clippy --manifest-path fuzz/Cargo.toml --all-targets -- -D warnings
	CARGO_TARGET_DIR=$(ROOT)/target $(CARGO) test --manifest-path fuzz/Cargo.toml

# A laptop's rustup may lack nightly: say what to install instead of failing in cargo's words.
fuzz-tools:
	@$(FUZZ_CARGO) --version >/dev/null 2>&1 || { \
	  echo "make fuzz needs the $(FUZZ_TOOLCHAIN) toolchain: rustup toolchain install $(FUZZ_TOOLCHAIN)" >&2; exit 1; }
	@command -v c++ >/dev/null 2>&1 || { \
	  echo "make fuzz needs a C++ compiler for libFuzzer (Debian/Ubuntu: apt-get install g++)" >&2; exit 1; }
	@$(CARGO) fuzz --version >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked

# Seeds the working corpus from the committed inputs (new ones are only added, nothing is
# overwritten), then fuzzes each target in turn; a finding stops the run there, with the input
# in fuzz/artifacts/<target>/ and the reproduction command printed by cargo-fuzz. -max_len: the seeds of the artifact target are
# whole model files (tens of KB); the others are capped so the fuzzer does not waste time on
# inputs far longer than anything the code treats differently.
fuzz: fuzz-tools
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$t && cp -n fuzz/regressions/$$t/* fuzz/corpus/$$t/ 2>/dev/null; \
	  case $$t in artifact_readers) len=131072;; predict_http) len=70000;; *) len=8192;; esac; \
	  echo "make fuzz: $$t for $(FUZZ_SECONDS) s (corpus fuzz/corpus/$$t, crashes in fuzz/artifacts/$$t)"; \
	  $(FUZZ_CARGO) fuzz run --features libfuzzer $$t fuzz/corpus/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) -max_len=$$len -print_final_stats=1 $(FUZZ_ARGS) || exit 1; \
	done
