# syntax=docker/dockerfile:1
# The txclass-server image: built in the Rust image, run from Debian slim as a non-root user.
#
#   docker build -t txclass-server .
#   docker run -p 8080:8080 txclass-server          # embedded defaults: SQLite, sandbox partner
#
# deploy/compose.yaml runs three of these behind HAProxy with Redis, OpenSearch, Prometheus
# and Grafana; deploy/k8s/ holds the Kubernetes manifests. Not built by CI (no container
# engine there): see "Deploying" in README.md for what is checked and what is not.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS build
WORKDIR /src
COPY . .
# Redis (shared limiter, queue, leases) and Elasticsearch/OpenSearch store; the sandbox partner
# is a default feature. No debug info in the image's binary.
ENV CARGO_PROFILE_RELEASE_DEBUG=0 \
    CARGO_PROFILE_RELEASE_STRIP=symbols
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p txclass-server \
        --features txclass-server/redis,txclass-server/elasticsearch \
 && install -m 0755 target/release/txclass-server /usr/local/bin/txclass-server

FROM debian:bookworm-slim
# ca-certificates for partners and stores over https; curl for the container health check.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 txclass \
 && useradd --system --uid 10001 --gid txclass --home-dir /var/lib/txclass --create-home \
        --shell /usr/sbin/nologin txclass
COPY --from=build /usr/local/bin/txclass-server /usr/local/bin/txclass-server
USER 10001:10001
# The default SQLite store (data/txclass.db) lands here when no [store] is configured.
WORKDIR /var/lib/txclass
ENV TXCLASS_LISTEN=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
    CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/txclass-server"]
