# syntax=docker/dockerfile:1
# `credit serve` as a container: the REST API + prediction log, for Cloud Run or any OCI runtime.
#
# Targets:
#   runtime (default)  builds the binary from source in a Rust builder stage, then copies it into a
#                      small non-root Debian image.
#                        docker build -t credit .
#   runtime-prebuilt   the same runtime image around a binary built beforehand on the host
#                      (`make build`; glibc of the host must not be newer than the base image's).
#                        docker build --target runtime-prebuilt -t credit .
#   The builder stage downloads crates from crates.io. On this project's CI machines no image
#   registry is reachable (no rust image to start from) and crates.io is reached through a
#   TLS-inspecting proxy that only the host trusts, so `make test` builds runtime-prebuilt;
#   `make test-container-source` builds this default target with a local stand-in Rust image and
#   the host's CA bundle (tests/container/source-build.sh, ~20 min on 2 cores).
#
# Build arguments: RUST_IMAGE, BASE_IMAGE (any Debian-like image with glibc >= the binary's; the
# test suite imports a debootstrap root filesystem under the default name), CREDIT_BIN (path of
# the prebuilt binary inside the build context), WEB_DIST (the built browser page, default web/dist).
#
# The browser page (web/dist) must be built before (`make web`, as deploy/cloudrun/deploy.sh does).

ARG RUST_IMAGE=docker.io/library/rust:1.95-slim-bookworm
ARG BASE_IMAGE=docker.io/library/debian:bookworm-slim

# ---- builder: the release binary, from source --------------------------------------------------
FROM ${RUST_IMAGE} AS builder
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p credit-service \
    && install -D -m 0755 target/release/credit /out/credit

# ---- runtime-base: everything except the binary --------------------------------------------------
FROM ${BASE_IMAGE} AS runtime-base
LABEL org.opencontainers.image.title="credit" \
      org.opencontainers.image.description="Credit-default scoring REST API (credit serve) with its prediction log" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/credit-default/credit-default" \
      org.opencontainers.image.url="https://github.com/credit-default/credit-default" \
      org.opencontainers.image.documentation="https://github.com/credit-default/credit-default#readme"
# A fixed numeric uid/gid so Kubernetes/Cloud Run `runAsNonRoot` checks can verify it.
RUN groupadd --gid 10001 credit \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /var/lib/credit \
       --shell /usr/sbin/nologin credit \
    && mkdir -p /var/lib/credit \
    && chown 10001:10001 /var/lib/credit \
    && chmod 0750 /var/lib/credit
# Read-only application files, owned by root: the process cannot change its own model or page.
COPY models/default.json /app/models/default.json
COPY LICENSE /usr/share/doc/credit/LICENSE
# The browser page, built beforehand (`make web`). WEB_DIST may name another directory of the
# build context (the container test passes a stand-in page when the real one was not built).
ARG WEB_DIST=web/dist
COPY ${WEB_DIST}/ /app/web/dist/
# The working directory is the only writable place: the SQLite prediction journal lives there
# (on Cloud Run it is in-memory; set CREDIT_LOG to a bigquery:// sink to keep records).
WORKDIR /var/lib/credit
# CREDIT_HOST=0.0.0.0 so the port is reachable from outside the container; the port is $PORT.
ENV PORT=8080 \
    CREDIT_HOST=0.0.0.0 \
    CREDIT_MODEL=/app/models/default.json \
    CREDIT_WEB_DIR=/app/web/dist \
    CREDIT_LOG=sqlite:///var/lib/credit/predictions.db
EXPOSE 8080
USER 10001:10001
# No curl in the slim image: bash's /dev/tcp speaks just enough HTTP/1.0 for a health probe.
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/\"${PORT:-8080}\" && printf 'GET /health HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/credit"]
CMD ["serve"]

# ---- runtime-prebuilt: around a binary built on the host -----------------------------------------
FROM runtime-base AS runtime-prebuilt
ARG CREDIT_BIN=target/release/credit
COPY ${CREDIT_BIN} /usr/local/bin/credit

# ---- runtime (default target): around the binary built by the builder stage ----------------------
FROM runtime-base AS runtime
COPY --from=builder /out/credit /usr/local/bin/credit
