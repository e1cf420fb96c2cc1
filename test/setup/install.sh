#!/usr/bin/env bash
# Provisions every real part the tests use (see README "Test bench").
#
#   test/setup/install.sh           install what is missing (idempotent; fast when cached)
#   test/setup/install.sh --check   install nothing; exit 0 if everything is present at the pinned
#                                   versions, 3 (naming what is missing) otherwise
#
# Debian packages come from apt (needs root). Go-built clients and servers are compiled once with the
# machine's Go and cached in $QUAY_TS_TOOLS (default $HOME/.cache/quay-ts/bin), each with a stamp
# file recording module@version; a tool whose stamp matches is skipped. Go's module and build caches
# ($HOME/go/pkg/mod, $HOME/.cache/go-build) make a rebuild after a version bump cheap.
set -euo pipefail

TOOLS="${QUAY_TS_TOOLS:-$HOME/.cache/quay-ts/bin}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CHECK_ONLY=0
[[ "${1:-}" == "--check" ]] && CHECK_ONLY=1

# Debian packages the tests need. postgresql: the server (initdb/postgres in /usr/lib/postgresql/15/bin);
# chromium + fonts: the web UI tests (playwright-core drives /usr/bin/chromium); rpm: rpmbuild and an sqlite
# rpmdb for the scanner's rpm detector; openssh-server: the sshd serving git repositories to build triggers.
APT_PACKAGES=(
  postgresql redis-server rpm
  skopeo podman buildah umoci docker-registry golang-github-containers-common crun
  wrk curl jq ca-certificates git openssh-server
  chromium fonts-liberation
)
# nginx: the load balancer in front of the registry replicas of `bench -- scale` and test/e2e/scale (started
# by the bench on loopback with a generated config; the package's own service is kept from starting below).
APT_PACKAGES+=(nginx)

# name | go package to install | version (pinned; served by the Go module proxy) | extra -ldflags | Go toolchain
# (a tool needing a newer Go than the machine's names the approved one; the go command fetches it from the proxy)
GO_TOOLS=(
  "oras|oras.land/oras/cmd/oras|v1.3.6"
  "crane|github.com/google/go-containerregistry/cmd/crane|v0.22.1"
  "helm|helm.sh/helm/v3/cmd/helm|v3.22.0|-X helm.sh/helm/v3/internal/version.version=v3.22.0"
  "cosign|github.com/sigstore/cosign/v3/cmd/cosign|v3.1.3"
  "conformance|github.com/opencontainers/distribution-spec/conformance|v0.0.0-20260831232431-97274622c111"
  "minio|github.com/minio/minio|v0.0.0-20260212201848-7aac2a2c5b7c"
  "osv-scanner|github.com/google/osv-scanner/v2/cmd/osv-scanner|v2.6.0||go1.27.3"
  "mailpit|github.com/axllent/mailpit|v1.33.1"
  # containerd's client and daemon: ctr needs a running containerd even to pull (its content store); the TLS test
  # starts one as root on a socket under its own temp dir (~2-3 min for both on 2 quiet cores)
  "ctr|github.com/containerd/containerd/v2/cmd/ctr|v2.4.2|-X github.com/containerd/containerd/v2/version.Version=v2.4.2"
  "containerd|github.com/containerd/containerd/v2/cmd/containerd|v2.4.2|-X github.com/containerd/containerd/v2/version.Version=v2.4.2"
  # CNCF Distribution's current release: the anchor of `npm run bench -- registry` (Debian's 2.8 is docker-registry)
  "distribution|github.com/distribution/distribution/v3/cmd/registry|v3.1.2|-X github.com/distribution/distribution/v3/version.version=v3.1.2"
)

T0=$(date +%s)
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
log() { printf '[install] %s\n' "$*"; }

missing=()

# One install at a time per tools dir (global setup of a concurrent `npm test` may call us too).
if ((CHECK_ONLY == 0)); then
  mkdir -p "$TOOLS"
  exec 9>"$TOOLS/.install.lock"
  if ! flock -n 9; then
    log "another install.sh is running; waiting for it"
    flock 9
  fi
fi

# ---------------------------------------------------------------------------------------------- apt
apt_missing() {
  local p out=()
  for p in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then out+=("$p"); fi
  done
  echo "${out[@]:-}"
}

s=$(now)
read -r -a need_apt <<<"$(apt_missing)"
if ((${#need_apt[@]} == 0)); then
  log "apt: all ${#APT_PACKAGES[@]} packages present ($(elapsed "$s")s)"
elif ((CHECK_ONLY)); then
  missing+=("apt packages: ${need_apt[*]}")
else
  if [[ $(id -u) -ne 0 ]]; then
    log "apt packages missing (${need_apt[*]}) and not running as root: install them with apt-get, or rerun as root"
    exit 1
  fi
  log "apt: installing ${need_apt[*]}"
  # Keep package scripts from starting services (redis, postgres, docker-registry) on the machine:
  # the tests start their own, on loopback only.
  made_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/tmp/quay-ts-apt.log 2>&1 || {
    tail -40 /tmp/quay-ts-apt.log; ((made_policy)) && rm -f /usr/sbin/policy-rc.d; exit 1; }
  ((made_policy)) && rm -f /usr/sbin/policy-rc.d
  log "apt: installed in $(elapsed "$s")s"
fi

# The containers tools read /etc/containers/policy.json unless a test points elsewhere; make sure the
# default exists (tests get their own through tools.ts anyway).
if [[ ! -e /etc/containers/policy.json && $(id -u) -eq 0 && $CHECK_ONLY -eq 0 ]]; then
  mkdir -p /etc/containers
  printf '{"default":[{"type":"insecureAcceptAnything"}]}\n' >/etc/containers/policy.json
fi

# ---------------------------------------------------------------------------------------------- go
if ! command -v go >/dev/null; then
  log "Go is not installed (needed to build: ${GO_TOOLS[*]%%|*}); install Go >= 1.26"
  exit 1
fi
mkdir -p "$TOOLS"
export GOFLAGS="${GOFLAGS:--buildvcs=false}" CGO_ENABLED=0 GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

# Builds one tool (an entry of GO_TOOLS) into $TOOLS; prints its timing; non-zero on failure.
build_tool() {
  local name pkg version ldflags toolchain want s tmp
  IFS='|' read -r name pkg version ldflags toolchain <<<"$1"
  want="$pkg@$version${ldflags:+ $ldflags}"
  s=$(now)
  log "$name: building $want ..."
  tmp=$(mktemp -d)
  if ! GOBIN="$tmp" GOTOOLCHAIN="${toolchain:-$GOTOOLCHAIN}" go install -trimpath -ldflags="-s -w ${ldflags:-}" "$pkg@$version" >"$tmp/build.log" 2>&1; then
    tail -30 "$tmp/build.log" | sed "s/^/[install] $name: /"
    log "$name: BUILD FAILED ($want)"
    rm -rf "$tmp"
    return 1
  fi
  mv -f "$tmp/$(basename "$pkg")" "$TOOLS/$name"
  echo "$want" >"$TOOLS/.$name.version"
  rm -rf "$tmp"
  log "$name: built in $(elapsed "$s")s"
}

# Builds the given entries one after another.
build_lane() {
  local e
  for e in "$@"; do build_tool "$e" || return 1; done
}

to_build=()
for entry in "${GO_TOOLS[@]}"; do
  IFS='|' read -r name pkg version ldflags toolchain <<<"$entry"
  want="$pkg@$version${ldflags:+ $ldflags}"
  stamp="$TOOLS/.$name.version"
  if [[ -x "$TOOLS/$name" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    log "$name: cached ($version)"
  elif ((CHECK_ONLY)); then
    missing+=("$name ($want)")
  else
    to_build+=("$entry")
  fi
done

# ------------------------------------------------------------------------------------------- python
# schemathesis (PyPI): the REST API fuzzer of test/integration/api/fuzz.test.ts, pinned, in a venv cached beside
# the Go tools ($QUAY_TS_TOOLS/../schemathesis-venv); its `st` is linked into $QUAY_TS_TOOLS.
ST_VERSION=4.32.5
ST_VENV="$(dirname "$TOOLS")/schemathesis-venv"
st_version() { "$ST_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null || true; }
if [[ -x "$ST_VENV/bin/st" && -x "$TOOLS/st" && "$(st_version)" == "$ST_VERSION" ]]; then
  log "schemathesis: cached ($ST_VERSION)"
elif ((CHECK_ONLY)); then
  missing+=("schemathesis $ST_VERSION (PyPI, venv $ST_VENV)")
else
  s=$(now)
  if ! command -v python3 >/dev/null; then
    log "python3 is not installed (needed for schemathesis)"
    exit 1
  fi
  rm -rf "$ST_VENV"
  if ! { python3 -m venv "$ST_VENV" && "$ST_VENV/bin/pip" install -q "schemathesis==$ST_VERSION"; } >/tmp/quay-ts-pip.log 2>&1; then
    tail -30 /tmp/quay-ts-pip.log | sed 's/^/[install] schemathesis: /'
    log "schemathesis: INSTALL FAILED"
    exit 1
  fi
  ln -sfn "$ST_VENV/bin/st" "$TOOLS/st"
  log "schemathesis: installed $ST_VERSION in $(elapsed "$s")s"
fi

if ((CHECK_ONLY)); then
  if ((${#missing[@]})); then
    printf '[install] missing: %s\n' "${missing[@]}"
    exit 3
  fi
  log "everything present"
  exit 0
fi

# Two lanes: the biggest build (minio) in one, the rest in the other, so that one lane's module
# downloads and single-threaded links overlap the other's compiles (2 cores).
s_go=$(now)
lane_a=() lane_b=()
for entry in "${to_build[@]}"; do
  if [[ "${entry%%|*}" == minio ]]; then lane_a+=("$entry"); else lane_b+=("$entry"); fi
done
pids=()
if ((${#lane_a[@]})); then build_lane "${lane_a[@]}" & pids+=($!); fi
if ((${#lane_b[@]})); then build_lane "${lane_b[@]}" & pids+=($!); fi
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
if ((failed)); then
  log "a Go tool failed to build (see above)"
  exit 1
fi
if ((${#to_build[@]})); then log "go tools: ${#to_build[@]} built in $(elapsed "$s_go")s"; fi

# ------------------------------------------------------------------------------- kubernetes (operator)
if [[ -f "$ROOT/test/setup/k8s/build.sh" ]]; then
  s=$(now)
  log "k8s: running test/setup/k8s/build.sh"
  bash "$ROOT/test/setup/k8s/build.sh"
  log "k8s: done in $(elapsed "$s")s"
fi

log "all done in $(( $(date +%s) - T0 ))s; tools in $TOOLS"
