#!/usr/bin/env bash
# k8s-binaries.sh builds (once) the pinned Kubernetes binaries that the local
# fleet and the tests run, and links them into bin/k8s.
#
# Binaries are cached per user and per version in
#   ${FLOTILLA_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flotilla/k8s/<version>}
# so a fresh clone on the same machine reuses them. A binary already named by
# an environment variable (ETCD_BINARY, KUBE_APISERVER_BINARY,
# KUBE_CONTROLLER_MANAGER_BINARY, KUBE_SCHEDULER_BINARY, KWOK_BINARY,
# KWOKCTL_BINARY, KUBECTL_BINARY) or by FLOTILLA_K8S_BIN_DIR takes precedence.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
K8S_VERSION="v1.37.2"
ETCD_VERSION="v3.6.6"
KWOK_VERSION="v0.8.0"
KEY="${K8S_VERSION}-etcd${ETCD_VERSION}-kwok${KWOK_VERSION}"
CACHE="${FLOTILLA_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flotilla/k8s/${KEY}}"
OUT="${ROOT}/bin/k8s"
mkdir -p "${CACHE}" "${OUT}"

log() { printf '[k8s-binaries] %s\n' "$*" >&2; }

# resolve NAME ENVVAR: prints a path to an existing binary given by the
# environment, or nothing.
resolve() {
  local name="$1" var="$2" v
  v="${!var:-}"
  if [[ -n "${v}" && -x "${v}" ]]; then echo "${v}"; return; fi
  if [[ -n "${FLOTILLA_K8S_BIN_DIR:-}" && -x "${FLOTILLA_K8S_BIN_DIR}/${name}" ]]; then
    echo "${FLOTILLA_K8S_BIN_DIR}/${name}"; return
  fi
}

# build NAME MODULE_DIR PACKAGE
build() {
  local name="$1" dir="$2" pkg="$3" given
  given="$(resolve "${name}" "$4")"
  if [[ -n "${given}" ]]; then
    ln -sf "${given}" "${OUT}/${name}"
    return
  fi
  if [[ ! -x "${CACHE}/${name}" ]]; then
    log "building ${name} (${pkg}); first build only, cached in ${CACHE}"
    local start=$SECONDS
    (cd "${ROOT}/hack/tools/${dir}" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w $5" -o "${CACHE}/${name}.tmp" "${pkg}")
    mv "${CACHE}/${name}.tmp" "${CACHE}/${name}"
    log "built ${name} in $((SECONDS - start))s"
  fi
  ln -sf "${CACHE}/${name}" "${OUT}/${name}"
}

KV="-X k8s.io/component-base/version.gitVersion=${K8S_VERSION} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37 -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/client-go/pkg/version.gitVersion=${K8S_VERSION}"
KWV=""

want=("$@")
[[ ${#want[@]} -eq 0 ]] && want=(etcd kwok kwokctl kube-scheduler kube-controller-manager kubectl kube-apiserver)
for b in "${want[@]}"; do
  case "$b" in
    etcd) build etcd etcd go.etcd.io/etcd/server/v3 ETCD_BINARY "" ;;
    kwok) build kwok kwok sigs.k8s.io/kwok/cmd/kwok KWOK_BINARY "${KWV}" ;;
    kwokctl) build kwokctl kwok sigs.k8s.io/kwok/cmd/kwokctl KWOKCTL_BINARY "${KWV}" ;;
    kube-apiserver) build kube-apiserver k8s k8s.io/kubernetes/cmd/kube-apiserver KUBE_APISERVER_BINARY "${KV}" ;;
    kube-controller-manager) build kube-controller-manager k8s k8s.io/kubernetes/cmd/kube-controller-manager KUBE_CONTROLLER_MANAGER_BINARY "${KV}" ;;
    kube-scheduler) build kube-scheduler k8s k8s.io/kubernetes/cmd/kube-scheduler KUBE_SCHEDULER_BINARY "${KV}" ;;
    kubectl) build kubectl k8s k8s.io/kubernetes/cmd/kubectl KUBECTL_BINARY "${KV}" ;;
    *) log "unknown binary ${b}"; exit 2 ;;
  esac
done
log "binaries ready in ${OUT}"
