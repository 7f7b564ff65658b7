# The fleet's shared budget: Debian's redis-server on the same local base as the
# desktop, so it builds where no registry can be reached (image/ci-build.sh).
# With a registry, docker.io/library/redis:7 does the same job (see README).
FROM docker.io/library/debian:bookworm-slim

# The base is Debian 12, so the version is Debian 12's: pinned by the release.
# hadolint ignore=DL3008
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/*

# The package makes the system user; its id is Debian's choice, not ours.
# hadolint ignore=DL3066
USER redis
WORKDIR /var/lib/redis
EXPOSE 6379
# Charges live one rate-limit window, so nothing is worth saving to disk. No
# password: the port stays on the compose network and is never published.
CMD ["redis-server", "--protected-mode", "no", "--save", "", "--appendonly", "no"]
