# hookrelay in a container: the release binary on debian:bookworm-slim, run as
# an unprivileged user, with nothing added to the base but the binary.
#
# `docker build .` compiles from source (stage `build`) and yields the last
# stage, `runtime`. CI builds `runtime-prebuilt` instead, from a context that
# holds only the release binary it has just built and tested (see
# .ci/container-test); both are `runtime-base` plus the binary, so what CI runs
# is configured exactly as what users build.
#
# No apt layer: reqwest checks receivers' certificates against the webpki roots
# compiled into the binary (rustls), not the system store, so ca-certificates
# would be unused; the health check is hookrelay itself, so curl is gone too.

FROM rust:1-slim-bookworm AS build
WORKDIR /src
# The whole tree (less .dockerignore): whatever the crate compiles in, such as
# sql/ and migrations/ today, cannot be left behind by a list kept here.
COPY . .
RUN cargo build --release --locked --bin hookrelay \
 && strip target/release/hookrelay

FROM debian:bookworm-slim AS runtime-base
# A numeric user needs no passwd entry (so no RUN layer), and lets an
# orchestrator verify it is not root (Kubernetes' runAsNonRoot checks a number).
USER 10001:10001
# In a container there is no Postgres for hookrelay to start: without
# DATABASE_URL it exits at once with one line saying so.
ENV HOOKRELAY_LISTEN=0.0.0.0:8080 \
    HOOKRELAY_MANAGED_POSTGRES=false \
    HOOKRELAY_LOG_FORMAT=json
EXPOSE 8080
# `hookrelay healthcheck` reads HOOKRELAY_LISTEN like `serve` does, so the check
# follows the port a deployment sets.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/hookrelay", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/hookrelay"]
CMD ["serve"]

FROM runtime-base AS runtime-prebuilt
COPY hookrelay /usr/local/bin/hookrelay

FROM runtime-base AS runtime
COPY --from=build /src/target/release/hookrelay /usr/local/bin/hookrelay
