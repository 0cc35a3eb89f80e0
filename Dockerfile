# The polyroute sidecar: `polyroute serve` in a small, non-root image.
#
#   docker build -t polyroute .
#   export APP_TOKEN="$(openssl rand -hex 32)"
#   docker run --rm -p 127.0.0.1:7878:7878 -e APP_TOKEN \
#       -v "$PWD/polyroute.toml:/etc/polyroute/polyroute.toml:ro" \
#       polyroute serve --config /etc/polyroute/polyroute.toml --bind 0.0.0.0:7878
#
# Listening on 0.0.0.0 inside the container needs tokens: the mounted polyroute.toml must
# declare at least one (`polyroute serve` refuses to start without, naming the fix), e.g.
#
#   [[sidecar.tokens]]
#   name = "app"
#   token = "${APP_TOKEN}"
#   read = ["*"]
#   write = ["*"]
#
# and callers send `Authorization: Bearer $APP_TOKEN`. `-p 127.0.0.1:7878:7878` publishes the
# port on the host's loopback only. In a pod, keep the default 127.0.0.1 bind: the application
# reaches it over the pod's loopback.
# Build with server backends: --build-arg FEATURES=postgres,redis

FROM rust:1-bookworm AS build
ARG FEATURES=""
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p polyroute-cli ${FEATURES:+--features "$FEATURES"} \
 && install -D target/release/polyroute /out/polyroute

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 polyroute \
 && useradd --system --uid 10001 --gid polyroute --home-dir /var/lib/polyroute --create-home polyroute
COPY --from=build /out/polyroute /usr/local/bin/polyroute
USER 10001:10001
WORKDIR /var/lib/polyroute
EXPOSE 7878
ENTRYPOINT ["polyroute"]
CMD ["serve", "--config", "/etc/polyroute/polyroute.toml", "--log-format", "json"]
