# syntax=docker/dockerfile:1
# Ballast's container image: one account per container (README, "Running in production").
# Build: docker build -t ballast:0.1.0 .
# Run:   docker run -d --name ballast -v ballast-data:/data -p 7878:7878 \
#          -v "$PWD/ballast.toml:/etc/ballast/ballast.toml:ro" --env-file ballast.env ballast:0.1.0
# Linted by hadolint in crates/ballast/tests/deploy.rs.

# --- build: the official Rust image, the workspace's locked dependencies --------------------
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p ballast \
    && install -D -m 0755 target/release/ballast /out/ballast \
    && install -d -m 0700 /out/data

# --- runtime: distroless (glibc, CA certificates; no shell, no package manager) -------------
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/ballast /usr/local/bin/ballast
# The data directory (journal, snapshots, run/, logs/, state/): a volume, owned by the
# image's non-root user (65532).
COPY --from=build --chown=65532:65532 /out/data /data
# The configuration: ./ballast.toml of the working directory when one is mounted there
# (else the defaults: paper mode, the bundled market data).
ENV BALLAST_HOME=/data \
    BALLAST_API__PORT=7878
WORKDIR /etc/ballast
VOLUME ["/data"]
USER 65532:65532
EXPOSE 7878
# SIGTERM stops the services in reverse dependency order (the engine journals and snapshots);
# give `docker stop` time for it: `docker stop -t 90` (or stop_grace_period: 90s in compose).
STOPSIGNAL SIGTERM
# No tini or --init: Ballast is PID 1 and a child subreaper (PR_SET_CHILD_SUBREAPER) — it
# reaps every orphan re-parented to it and forwards SIGTERM to its services' process groups.
# /livez answers 200 while the supervisor's loop publishes health reports; `ballast probe`
# is the probe (distroless has no curl). The address comes from /data/run/api.addr.
HEALTHCHECK --interval=30s --timeout=5s --start-period=2m --retries=3 \
    CMD ["/usr/local/bin/ballast", "probe", "livez"]
ENTRYPOINT ["/usr/local/bin/ballast"]
# The API listens on 127.0.0.1 (the HEALTHCHECK reaches it there). To publish it, the mounted
# configuration sets [api] bind = "0.0.0.0", allow_remote = true and a token_file of your own
# (`ballast run` refuses a remote bind without them, exit 78).
CMD ["run"]
