# hookrelay in a container: a static-ish release build on a slim runtime, run as
# an unprivileged user. In a container hookrelay does not manage its own
# Postgres: DATABASE_URL is required.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY sql ./sql
COPY migrations ./migrations
RUN cargo build --release --bin hookrelay && strip target/release/hookrelay

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home hookrelay
COPY --from=build /src/target/release/hookrelay /usr/local/bin/hookrelay
USER hookrelay
ENV HOOKRELAY_LISTEN=0.0.0.0:8080 \
    HOOKRELAY_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
# Fail fast and clearly when DATABASE_URL is missing, instead of trying to run a local cluster.
ENTRYPOINT ["/bin/sh", "-c", ": \"${DATABASE_URL:?DATABASE_URL is required in the container}\"; exec hookrelay \"$@\"", "hookrelay"]
CMD ["serve"]
