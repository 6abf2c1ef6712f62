#!/usr/bin/env bash
# Builds AITS's container images with podman, locally: no registry is reachable here, so the base
# images are Debian 12 root filesystems made with mmdebstrap and imported into podman
# (docs/deployment.md, "The images").
#   deploy/build-image.sh [AITS_BINARY]             default build/release/apps/aits/aits
#   deploy/build-image.sh --packages [AITS_BINARY]  only print the runtime packages it would install
#   deploy/build-image.sh --reuse-bases [AITS_BINARY]
#       keep the base images when they exist and were made for the same packages (a new binary
#       that links the same libraries: seconds instead of minutes)
# Makes localhost/aits-runtime:bookworm and localhost/aits-servers:bookworm (the bases), then
# localhost/aits:VERSION, localhost/aits-nats:VERSION, localhost/aits-postgres:VERSION and
# localhost/aits-redis:VERSION from deploy/Containerfile (VERSION: CMakeLists.txt's project
# version, the tag deploy/compose.yaml and deploy/k8s/kustomization.yaml name).
# Needs root (rootful podman; mmdebstrap's root mode), mmdebstrap and podman
# (scripts/install-deps.sh --image), a Debian 12 host (the package names of the libraries come
# from its dpkg database) and a Debian mirror: DEBIAN_MIRROR, default http://deb.debian.org/debian.
# The OCI runtime is AITS_PODMAN_RUNTIME, default runc: Debian 12's crun refuses to start any
# container on a host whose cgroups are v1 with an empty v2 hierarchy beside them ("cgroups in
# hybrid mode not supported"), as this machine's are; runc runs under v1, hybrid and v2 alike.
set -euo pipefail

only_packages=false
reuse_bases=false
while [[ "${1:-}" == --* ]]; do
  case "$1" in
    --packages) only_packages=true ;;
    --reuse-bases) reuse_bases=true ;;
    *) echo "build-image: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
# A binary named on the command line is taken relative to where the script was started.
binary="${1:+$(realpath -m -- "$1")}"
cd "$(dirname "$0")/.."
binary="${binary:-build/release/apps/aits/aits}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
suite=bookworm

fail() { echo "build-image: $*" >&2; exit 1; }

[[ -x "${binary}" ]] || fail "${binary}: no such executable (build it: scripts/build.sh release)"
# shellcheck source=/dev/null
. /etc/os-release
[[ "${VERSION_CODENAME:-}" == "${suite}" ]] ||
  fail "this host is ${PRETTY_NAME:-unknown}; the library packages are looked up in a Debian 12 dpkg database"
version="$(sed -n 's/^project(aits VERSION \([0-9][0-9.]*\).*/\1/p' CMakeLists.txt)"
[[ -n "${version}" ]] || fail "CMakeLists.txt: no 'project(aits VERSION x.y.z'"

# The Debian package of every shared library the binary loads: ldd resolves them, dpkg -S names
# the package that ships each (by its path, or the path its symlink resolves to: merged /usr
# means a library may be registered under /lib or /usr/lib). apt adds their dependencies.
runtime_packages() {
  local lib owner libs
  if ldd "${binary}" | grep -q 'not found'; then
    ldd "${binary}" | grep 'not found' >&2
    fail "${binary} needs libraries this host does not have"
  fi
  mapfile -t libs < <(ldd "${binary}" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u)
  ((${#libs[@]} > 0)) || fail "${binary}: ldd found no libraries"
  for lib in "${libs[@]}"; do
    owner="$(dpkg -S "${lib}" 2>/dev/null || dpkg -S "$(readlink -f "${lib}")" 2>/dev/null)" ||
      fail "no Debian package ships ${lib} (a library built here cannot go into the image)"
    # "libc6:amd64: /lib/x86_64-linux-gnu/libc.so.6" -> libc6 (the first package, if several)
    owner="${owner%%$'\n'*}"
    owner="${owner%%:*}"
    packages+=("${owner%%,*}")
  done
  mapfile -t packages < <(printf '%s\n' "${packages[@]}" | sort -u)
}
packages=()
runtime_packages
if [[ "${only_packages}" == true ]]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi
echo "build-image: runtime packages: ${packages[*]}"
[[ $(id -u) -eq 0 ]] || fail "run as root: the images are built with rootful podman"
for tool in mmdebstrap podman dpkg ldd; do
  command -v "${tool}" >/dev/null || fail "${tool} not found (scripts/install-deps.sh --image)"
done

runtime="${AITS_PODMAN_RUNTIME:-runc}"
command -v "${runtime}" >/dev/null || fail "${runtime} not found (scripts/install-deps.sh --image)"
# The containers a build runs (the RUN steps) get the same limits as every container here: podman
# would ask for more open files than this host's hard limit allows, and the runtime fails.
podman_build=(podman --runtime "${runtime}" build --ulimit nofile=1024:1024
              --ulimit nproc=1024:1024)

work="$(mktemp -d /var/tmp/aits-image.XXXXXX)"
trap 'rm -rf "${work}"' EXIT

# The bases carry the packages they were made with as a label, so that --reuse-bases can tell a
# base that still fits the binary from one that does not.
runtime_list="$(IFS=,; echo "${packages[*]}")"
servers_list=nats-server,postgresql-15,redis-server
base_fits() {  # IMAGE PACKAGES
  [[ "$(podman image inspect --format '{{index .Config.Labels "aits.packages"}}' "$1" \
        2>/dev/null)" == "$2" ]]
}

# minbase: the Essential packages and apt. Documentation and translations are left out, the
# copyright files kept. mmdebstrap runs the packages' scripts with services prevented from
# starting (policy-rc.d), and leaves no apt lists or caches in the tarball.
common=(--variant=minbase --format=tar
        --dpkgopt='path-exclude=/usr/share/man/*'
        --dpkgopt='path-exclude=/usr/share/locale/*'
        --dpkgopt='path-exclude=/usr/share/doc/*'
        --dpkgopt='path-include=/usr/share/doc/*/copyright')

if [[ "${reuse_bases}" == true ]] && base_fits "localhost/aits-runtime:${suite}" "${runtime_list}"
then
  echo "build-image: reusing localhost/aits-runtime:${suite} (same packages)"
else
  echo "build-image: mmdebstrap ${suite} runtime root filesystem"
  mmdebstrap "${common[@]}" --include="${runtime_list}" "${suite}" "${work}/runtime.tar" "${mirror}"
  podman import --change "LABEL aits.packages=${runtime_list}" "${work}/runtime.tar" \
    "localhost/aits-runtime:${suite}"
  rm -f "${work}/runtime.tar"
fi

# postgresql-15's postinst would make a cluster "main" in /var/lib/postgresql/15/main (Debian's
# createcluster.conf); the image's entrypoint makes its own in the volume, so that one is never
# made: the drop-in directory createcluster.conf includes is written before the packages install.
# "$1" is the root filesystem: mmdebstrap's hook shell expands it, not this one.
# shellcheck disable=SC2016
no_main_cluster='mkdir -p "$1/etc/postgresql-common/createcluster.d" && echo "create_main_cluster = false" >"$1/etc/postgresql-common/createcluster.d/aits.conf"'
if [[ "${reuse_bases}" == true ]] && base_fits "localhost/aits-servers:${suite}" "${servers_list}"
then
  echo "build-image: reusing localhost/aits-servers:${suite} (same packages)"
else
  echo "build-image: mmdebstrap ${suite} servers root filesystem"
  mmdebstrap "${common[@]}" --include="${servers_list}" \
    --essential-hook="${no_main_cluster}" "${suite}" "${work}/servers.tar" "${mirror}"
  podman import --change "LABEL aits.packages=${servers_list}" "${work}/servers.tar" \
    "localhost/aits-servers:${suite}"
  rm -f "${work}/servers.tar"
fi

# The build context: only what the Containerfile copies.
context="${work}/context"
mkdir -p "${context}/image"
cp "${binary}" "${context}/aits"
cp deploy/image/aits-probe deploy/image/postgres-entrypoint.sh "${context}/image/"
cp deploy/k8s/redis.conf "${context}/redis.conf"

for target in nats postgres redis aits; do
  name="aits-${target}"
  [[ "${target}" == aits ]] && name=aits
  echo "build-image: localhost/${name}:${version}"
  "${podman_build[@]}" --format docker --target "${target}" --build-arg "VERSION=${version}" \
    -f deploy/Containerfile -t "localhost/${name}:${version}" "${context}"
done
# Each build leaves the previous image of its tag behind, untagged.
podman image prune --force >/dev/null
podman images --filter reference='localhost/aits*'
