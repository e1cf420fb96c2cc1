#!/usr/bin/env bash
# Builds the test cluster's programs (kube-apiserver, kubectl, etcd) from the Kubernetes and etcd Go
# modules into $QUAY_TS_TOOLS (default $HOME/.cache/quay-ts/bin). Idempotent: does nothing when the
# binary was already built from the same sources. Go's module and build caches live under $HOME,
# so a rebuild after a source change recompiles only what changed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$here/tools"
bin="${QUAY_TS_TOOLS:-$HOME/.cache/quay-ts/bin}"
k8s_version="v1.36.3"

command -v go >/dev/null || { echo "build.sh: the Go toolchain is needed (apt-get install golang or see the README)" >&2; exit 1; }
mkdir -p "$bin"

stamp="$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" "$0" | sha256sum | cut -c1-16)"
if [[ -x "$bin/k8s-tools" && "$(cat "$bin/k8s-tools.stamp" 2>/dev/null)" == "$stamp" ]]; then
  echo "k8s tools up to date in $bin"
else
  start=$SECONDS
  echo "building kube-apiserver, kubectl and etcd ($k8s_version) into $bin ..."
  # -s -w: no symbol tables, a much shorter link; -trimpath: reproducible, cache-friendly paths.
  ldflags="-s -w"
  for kv in "gitVersion=$k8s_version" "gitMajor=1" "gitMinor=36" "gitTreeState=clean"; do
    ldflags+=" -X k8s.io/component-base/version.$kv -X k8s.io/client-go/pkg/version.$kv"
  done
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags="$ldflags" -o "$bin/k8s-tools.tmp" .)
  mv "$bin/k8s-tools.tmp" "$bin/k8s-tools"
  echo "$stamp" > "$bin/k8s-tools.stamp"
  echo "built in $((SECONDS - start)) s"
fi
for name in kube-apiserver kubectl etcd; do
  ln -sf k8s-tools "$bin/$name"
done
