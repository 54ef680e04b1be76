#!/usr/bin/env bash
# build.sh builds the end-to-end test's etcd and kube-apiserver from the
# nested modules next to this script, into a cache directory named by their
# versions and a hash of the module files, and prints that directory. It
# builds only what is missing: the first build takes minutes (about 5 on two
# cores, 2 GB of memory), later calls return at once.
#
# It also builds helm, for the chart tests, from the nested module helm/
# (about 2 minutes the first time), into a directory of its own named by
# helm's version and a hash of that module, and links it into the printed
# directory as helm: a new helm does not rebuild the API server.
#
# LOGLET_E2E_CACHE overrides the cache root, by default loglet-e2e beside
# Go's build cache (usually $HOME/.cache/loglet-e2e).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
go="${GO:-go}"

modversion() { # modversion DIR MODULE: the version DIR/go.mod requires
	(cd "$1" && GOFLAGS=-mod=readonly "$go" list -m -f '{{.Version}}' "$2")
}
kube="$(modversion "$here/apiserver" k8s.io/kubernetes)"
etcd="$(modversion "$here/etcd" go.etcd.io/etcd/server/v3)"
sum="$(cat "$here"/apiserver/{go.mod,go.sum,main.go} "$here"/etcd/{go.mod,go.sum,main.go} | sha256sum | cut -c1-12)"
gover="$("$go" env GOVERSION)"
cache="${LOGLET_E2E_CACHE:-$(dirname "$("$go" env GOCACHE)")/loglet-e2e}"
out="$cache/kube-$kube-etcd-$etcd-$gover-$sum"
mkdir -p "$out"

# One build at a time per cache directory; a second caller waits, then finds
# the binaries there.
exec 9>"$out/.lock"
flock 9

build() { # build NAME DIR LDFLAGS
	if [ -x "$out/$1" ]; then return; fi
	echo "build.sh: building $1 into $out (first time only; takes minutes)" >&2
	(cd "$2" && CGO_ENABLED=0 GOFLAGS=-mod=readonly "$go" build -trimpath -ldflags "$3" -o "$out/$1.tmp" .)
	mv "$out/$1.tmp" "$out/$1"
}
build etcd "$here/etcd" "-s -w"
minor="${kube#v1.}"; minor="${minor%%.*}"
build kube-apiserver "$here/apiserver" "-s -w \
 -X k8s.io/component-base/version.gitVersion=$kube \
 -X k8s.io/component-base/version.gitMajor=1 \
 -X k8s.io/component-base/version.gitMinor=$minor \
 -X k8s.io/component-base/version.gitTreeState=clean"

# helm, with the Kubernetes version its client libraries speak as the
# default of `helm template` and `helm lint`, as helm's own Makefile sets it.
helmver="$(modversion "$here/helm" helm.sh/helm/v3)"
client="$(modversion "$here/helm" k8s.io/client-go)" # v0.MINOR.PATCH
hminor="${client#v0.}"; hminor="${hminor%%.*}"
hsum="$(cat "$here"/helm/{go.mod,go.sum} | sha256sum | cut -c1-12)"
hout="$cache/helm-$helmver-$gover-$hsum"
mkdir -p "$hout"
if [ ! -x "$hout/helm" ]; then
	echo "build.sh: building helm $helmver into $hout (first time only; takes minutes)" >&2
	(cd "$here/helm" && CGO_ENABLED=0 GOFLAGS=-mod=readonly "$go" build -trimpath -ldflags "-s -w \
 -X helm.sh/helm/v3/internal/version.version=$helmver \
 -X helm.sh/helm/v3/internal/version.gitTreeState=clean \
 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 \
 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$hminor \
 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 \
 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$hminor" \
	 -o "$hout/helm.tmp" helm.sh/helm/v3/cmd/helm)
	mv "$hout/helm.tmp" "$hout/helm"
fi
ln -sfn "$hout/helm" "$out/helm"
echo "$out"
