# hookrelay in a container: the release binary on gcr.io/distroless/cc-debian12,
# which holds what a glibc program needs to run and little else (glibc, libgcc,
# CA certificates, time zones, a passwd with an unprivileged user; no shell, no
# package manager), run as that unprivileged user.
#
# `docker build .` compiles from source (stage `build`) and yields the last
# stage, `runtime`. CI builds `runtime-prebuilt` instead, from a context that
# holds only the release binary it has just built and tested (see
# .ci/container-test); both are `runtime-base` plus the binary, so what CI runs
# is configured exactly as what users build. CI has no registry to pull from:
# it makes a base with the same packages from Debian's archive and tags it with
# the name below, so this file is the same for both.
#
# Debian 12 on both sides: the binary is linked against bookworm's glibc 2.36,
# the one the distroless debian12 images carry. It links only libc, libm,
# libgcc_s and the loader; reqwest checks receivers' certificates against the
# webpki roots compiled into it (rustls), so the base's CA bundle goes unused.
# The health check is hookrelay itself, so nothing needs a shell.

FROM rust:1-slim-bookworm AS build
WORKDIR /src
# The whole tree (less .dockerignore): whatever the crate compiles in, such as
# sql/ and migrations/ today, cannot be left behind by a list kept here.
COPY . .
RUN cargo build --release --locked --bin hookrelay \
 && strip target/release/hookrelay

# `:nonroot` is the variant whose user is distroless's `nonroot` (65532, with a
# passwd entry and the home /home/nonroot).
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime-base
# Said again here, and as a number: an orchestrator can only verify a numeric
# user is not root (Kubernetes' runAsNonRoot), and the image does not depend on
# what the base's tag sets.
USER 65532:65532
# In a container there is no Postgres for hookrelay to start: without
# DATABASE_URL it exits at once with one line saying so.
ENV HOOKRELAY_LISTEN=0.0.0.0:8080 \
    HOOKRELAY_MANAGED_POSTGRES=false \
    HOOKRELAY_LOG_FORMAT=json
EXPOSE 8080
# Exec form throughout: there is no shell to run a string. `hookrelay
# healthcheck` reads HOOKRELAY_LISTEN like `serve` does, so the check follows
# the port a deployment sets.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/hookrelay", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/hookrelay"]
CMD ["serve"]

FROM runtime-base AS runtime-prebuilt
COPY hookrelay /usr/local/bin/hookrelay

FROM runtime-base AS runtime
COPY --from=build /src/target/release/hookrelay /usr/local/bin/hookrelay
