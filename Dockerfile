# syntax=docker/dockerfile:1.7
#
# The sluice container image: the broker binary on a distroless base, running as a non-root
# user. Build from the repository root (BuildKit, the default builder of current Docker):
#
#   docker build -t sluice:0.1.0 .
#
# The release build compiles wasmtime and takes about ten minutes on two cores the first
# time; the cache mounts below keep the cargo registry and target/ between builds.
# The WebAssembly plugins (plugins/, a workspace of its own) are not part of the image:
# they are uploaded to a running server (PUT /v1/plugins/{name}).

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS build
WORKDIR /src
COPY . .
# target/ lives in a cache mount, so the binary is copied out in the same step. /out holds
# exactly what the runtime stage takes: the binary and an empty /data owned by the runtime
# user (a VOLUME on a missing directory would be created root-owned, so unwritable).
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin sluice \
    && install -D -m 0755 target/release/sluice /out/usr/local/bin/sluice \
    && mkdir -p /out/data

# distroless/cc: glibc, libgcc_s and CA certificates, no shell; its nonroot user is 65532.
FROM gcr.io/distroless/cc-debian12:nonroot

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="sluice" \
      org.opencontainers.image.description="A NATS-compatible messaging gateway with WebAssembly plugins, HTTP publish and browser subscriptions" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"

COPY --from=build /out/usr/local/bin/sluice /usr/local/bin/sluice
COPY --from=build --chown=65532:65532 /out/data /data

# The default configuration: embedded mode with its store under /data (JetStream stays off
# until `-js`; plugins persist in /data/plugins either way) and monitoring on 8222 so that
# /healthz and /metrics answer. Arguments replace CMD, so keep `-c` when adding flags, which
# override the file: `docker run sluice -c /etc/sluice/sluice.toml -js`, or
# `... -c /etc/sluice/sluice.toml --upstream nats://h1:4222,nats://h2:4222`.
# The Helm chart mounts its own file over this one.
COPY <<'EOF' /etc/sluice/sluice.toml
# Default configuration of the sluice container image. Every key: examples/sluice.toml.

[nats]
host = "0.0.0.0"
port = 4222

[api]
host = "0.0.0.0"
port = 8080

[monitor]
host = "0.0.0.0"
port = 8222

[jetstream]
store_dir = "/data"
EOF

USER 65532:65532
WORKDIR /data
VOLUME ["/data"]
# 4222 NATS clients, 8080 HTTP API + console + WebSocket (/nats, /v1/ws), 8222 monitoring.
EXPOSE 4222 8080 8222
# SIGTERM (docker stop) drains and exits 0; SIGUSR2 enters lame duck mode.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/sluice"]
CMD ["-c", "/etc/sluice/sluice.toml"]
