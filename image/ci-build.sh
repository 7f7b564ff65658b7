#!/usr/bin/env bash
# Builds the desktop image, and the fleet's Redis image (compose.yaml), with
# podman on a Debian host with no container registry: a local
# debian:bookworm-slim made by debootstrap, then plain builds of the portable
# Dockerfiles. Cached: the base image and build layers are reused.
# Also installs podman-compose and the CNI name-resolution plugin the fleet's
# containers use to find `redis` by name.
# Usage: image/ci-build.sh [IMAGE_NAME [REDIS_IMAGE_NAME]]
set -euo pipefail
cd "$(dirname "$0")/.."
image="${1:-computer-use-demo:local}"
redis_image="${2:-computer-use-redis:local}"
base="docker.io/library/debian:bookworm-slim"
export DEBIAN_FRONTEND=noninteractive

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

need=()
for tool in podman runc debootstrap podman-compose; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
# Service names resolve on podman's CNI networks only with the dnsname plugin
# (netavark, podman's other network backend, has aardvark-dns instead).
if [ ! -e /usr/lib/cni/dnsname ] && [ ! -e /usr/lib/podman/netavark ]; then
  need+=(golang-github-containernetworking-plugin-dnsname)
fi
if [ "${#need[@]}" -gt 0 ]; then
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${need[@]}" uidmap slirp4netns fuse-overlayfs >/dev/null
fi

PODMAN=(podman --runtime runc --cgroup-manager=cgroupfs)
LIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=4096:4096)

if ! "${PODMAN[@]}" image exists "$base"; then
  mirror="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
  mirror="${mirror:-http://deb.debian.org/debian}"
  rootfs="$(mktemp -d)"
  echo "ci-build: making $base with debootstrap from $mirror"
  as_root debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >/dev/null
  as_root tar -C "$rootfs" -c . | "${PODMAN[@]}" import - "$base" >/dev/null
  as_root rm -rf "$rootfs"
fi

# pip inside the build trusts the CA bundle pip on this host uses.
ca_file="$(pip config list 2>/dev/null | sed -n "s/^global.cert='\(.*\)'$/\1/p" | head -n1)"
ca_file="${ca_file:-/etc/ssl/certs/ca-certificates.crt}"
build_ca=()
if [ -f "$ca_file" ]; then
  build_ca=(-v "$ca_file:/run/host-ca.crt:ro" --build-arg PIP_CERT=/run/host-ca.crt)
fi

echo "ci-build: building $image"
"${PODMAN[@]}" build --pull=never --network host "${LIMITS[@]}" "${build_ca[@]}" -t "$image" .
echo "ci-build: built $image"

echo "ci-build: building $redis_image"
"${PODMAN[@]}" build --pull=never --network host "${LIMITS[@]}" -f image/redis.Dockerfile -t "$redis_image" image
echo "ci-build: built $redis_image"
