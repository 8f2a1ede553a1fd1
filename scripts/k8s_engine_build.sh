#!/usr/bin/env bash
# Build the Kubernetes test engine (real kube-apiserver, kube-scheduler, etcd and KWOK)
# from the Go module proxy into a cache outside the repo; nothing is built when the
# binaries are already there.  Prints where they are and how long the build took.
#
#   kube-apiserver, kube-scheduler  k8s.io/kubernetes v$K8S_VERSION, built as tools of
#                                   our own module scripts/k8s_engine/ whose go.mod
#                                   replaces every staging module with its published v0.x
#   etcd                            go.etcd.io/etcd/server/v3 $ETCD_VERSION, main in
#                                   scripts/k8s_engine/etcd/ (etcd's own go.mod has
#                                   local replaces, so `go install` of it cannot work)
#   kwok                            sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION (its own module)
#   skyk8s-relay                    scripts/k8s_engine/relay/: stdin/stdout <-> one TCP
#                                   connection, the port-forward command inside a pod
#
# Usage: scripts/k8s_engine_build.sh [--print-dir]
set -euo pipefail
K8S_VERSION=1.36.3
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0
HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/jupyter-sky/k8s"
STAMP="k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION"
DIR="$CACHE/$STAMP"
BIN="$DIR/bin"
CRDS="$DIR/crds"

if [ "${1:-}" = "--print-dir" ]; then
  echo "$DIR"
  exit 0
fi

have_all() {
  for b in kube-apiserver kube-scheduler etcd kwok skyk8s-relay; do
    [ -x "$BIN/$b" ] || return 1
  done
  [ -f "$CRDS/kwok.x-k8s.io_portforwards.yaml" ] && [ -f "$CRDS/kwok.x-k8s.io_logs.yaml" ]
}

if have_all; then
  echo "k8s engine: cached in $DIR (kube-apiserver, kube-scheduler, etcd, kwok, skyk8s-relay)"
  exit 0
fi
command -v go >/dev/null || { echo "k8s engine: Go is not installed; it is needed to build the test engine" >&2; exit 1; }

# 2 shared cores and modest memory: at most 2 compiles at once, a tighter GC in the
# compiler, no VCS stamping (the module is copied out of the repo).
export GOFLAGS="-p=2 -buildvcs=false -trimpath"
export GOGC=50 CGO_ENABLED=0 GOTOOLCHAIN=local
START=$(date +%s)
mkdir -p "$BIN"
SRC="$DIR/src"
rm -rf "$SRC" && mkdir -p "$SRC"
cp -r "$HERE/k8s_engine/." "$SRC/"
VERSION_FLAGS="-X k8s.io/component-base/version.gitVersion=v$K8S_VERSION"
VERSION_FLAGS+=" -X k8s.io/component-base/version.gitMajor=${K8S_VERSION%%.*}"
MINOR="${K8S_VERSION#*.}"
VERSION_FLAGS+=" -X k8s.io/component-base/version.gitMinor=${MINOR%%.*}"

echo "k8s engine: building kube-apiserver, kube-scheduler $K8S_VERSION and etcd $ETCD_VERSION (cold: ~4 min) ..."
(
  cd "$SRC"
  GOBIN="$BIN" go install -ldflags="-s -w $VERSION_FLAGS" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-scheduler
  go build -ldflags="-s -w" -o "$BIN/etcd" ./etcd
  go build -ldflags="-s -w" -o "$BIN/skyk8s-relay" ./relay
)
MID=$(date +%s)
echo "k8s engine: apiserver, scheduler, etcd built in $((MID - START)) s"
echo "k8s engine: building kwok $KWOK_VERSION ..."
(cd "$DIR" && GOBIN="$BIN" go install -ldflags="-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION")
# kwok does not install its own CRDs; the PortForward and Logs ones come from its module.
KWOK_MOD="$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK_VERSION"
mkdir -p "$CRDS"
for kind in portforwards logs; do
  cp "$KWOK_MOD/kustomize/crd/bases/kwok.x-k8s.io_$kind.yaml" "$CRDS/"
done
chmod -R u+w "$CRDS"
END=$(date +%s)
echo "k8s engine: kwok built in $((END - MID)) s"
echo "k8s engine: built in $((END - START)) s into $DIR"
have_all
