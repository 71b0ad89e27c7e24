#!/usr/bin/env bash
# Builds xmpp-invites and its Debian package into OUTDIR:
#
#   packaging/deb.sh OUTDIR
#
# OUTDIR receives the binary (xmpp-invites) and xmpp-invites_VERSION_ARCH.deb for the
# machine's architecture. VERSION (environment) overrides the version packaging/version.sh
# derives from git; DEB_MAINTAINER overrides the Maintainer field. Needs Go, gcc (cgo) and
# objdump (binutils); nfpm runs as a Go tool of this module (go.mod), fetched on first use.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
cd "$root"
export PATH="$PATH:/usr/local/go/bin"

VERSION=${VERSION:-$(packaging/version.sh)}
case $VERSION in
[0-9]*) ;;
*)
	echo "deb.sh: version \"$VERSION\" must start with a digit (Debian policy)" >&2
	exit 2
	;;
esac
export VERSION
# Timestamps inside the package: the last commit's, so rebuilding gives the same package.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

echo "deb.sh: building xmpp-invites $VERSION"
# Compiled as go build and go vet compile (no -trimpath), so that dependencies already in the
# build cache, the cgo SQLite driver above all, are reused; only the link flags differ.
CGO_ENABLED=1 go build -buildvcs=false -ldflags "-s -w -X main.version=$VERSION" \
	-o "$out/xmpp-invites" ./cmd/xmpp-invites

# The binary links glibc (cgo): depend on the newest symbol version it uses.
DEB_LIBC_VERSION=$(objdump -T "$out/xmpp-invites" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/^GLIBC_//' | sort -uV | tail -n 1)
if [ -z "$DEB_LIBC_VERSION" ]; then
	echo "deb.sh: cannot tell which glibc $out/xmpp-invites needs (objdump -T)" >&2
	exit 1
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
# The packaged config is the example config with the database in the state directory.
sed -E 's|^(database *= *)"[^"]*" *|\1"/var/lib/xmpp-invites/invites.db" |' configs/xmpp-invites.toml >"$stage/xmpp-invites.toml"
if ! grep -q '^database *= *"/var/lib/xmpp-invites/invites.db"' "$stage/xmpp-invites.toml"; then
	echo "deb.sh: configs/xmpp-invites.toml has no database line to adjust" >&2
	exit 1
fi

export DEB_GOARCH=$(go env GOARCH) DEB_LIBC_VERSION
export DEB_BINARY="$out/xmpp-invites" DEB_CONFIG="$stage/xmpp-invites.toml"
export DEB_MAINTAINER=${DEB_MAINTAINER:-"xmpp-invites maintainers <maintainers@xmpp-invites.invalid>"}
go tool nfpm package --config packaging/nfpm.yaml --packager deb --target "$out/"
