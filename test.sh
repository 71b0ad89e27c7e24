#!/usr/bin/env bash
# Runs the whole xmpp-invites test suite: formatting, tidy modules, vet, and
# every test with the race detector, including the integration and fault tests
# against real Prosody and ejabberd, the nginx, Caddy and browser tests, the package
# build, and short fuzz runs.
#
#   ./test.sh                 run; fail naming the Debian packages that are missing
#   ./test.sh --install-deps  install the missing packages first (apt-get, as root
#                             or through sudo)
#
# It never stops, starts or reconfigures a system service: the tests start their
# own private servers on free loopback ports. (Installing prosody or ejabberd may
# start Debian's system instances on their default ports; they are left alone.)
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PATH:/usr/local/go/bin"

install_deps=false
for arg in "$@"; do
	case "$arg" in
	--install-deps) install_deps=true ;;
	*)
		echo "usage: $0 [--install-deps]" >&2
		exit 2
		;;
	esac
done

need=()
command -v prosody >/dev/null 2>&1 || need+=(prosody)
dpkg -s prosody-modules >/dev/null 2>&1 || need+=(prosody-modules)
dpkg -s lua-dbi-sqlite3 >/dev/null 2>&1 || need+=(lua-dbi-sqlite3)
command -v ejabberdctl >/dev/null 2>&1 || need+=(ejabberd)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v zbarimg >/dev/null 2>&1 || need+=(zbar-tools) # the browser test decodes the QR code
command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3)     # the backup test runs the documented recipe
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd) # the package test verifies the unit
command -v objdump >/dev/null 2>&1 || need+=(binutils)      # packaging/deb.sh reads the glibc the binary needs
command -v prlimit >/dev/null 2>&1 || need+=(util-linux)    # the connection flood test lowers the descriptor limit
[ -x /usr/sbin/nginx ] || need+=(nginx)                    # the proxy test runs docs/proxy.md's examples
[ -x /usr/bin/caddy ] || need+=(caddy)
# The PostgreSQL engine's tests start private clusters (internal/pgtest); installing the
# package may start Debian's own cluster on 5432, which is left alone.
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql)
dpkg -s fonts-noto-core >/dev/null 2>&1 || need+=(fonts-noto-core) # the browser test renders Arabic
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need+=(fonts-noto-cjk)   # and Japanese

# axe-core, the accessibility checker the browser tests inject into the pages
# (docs/testing.md): one pinned release from the npm registry, its tarball
# checked against the registry's sha512 integrity on every run, downloaded only
# when it is not in the cache yet. No Node: the tests load axe.min.js into Chromium.
axe_version=4.14.1
axe_integrity=sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==
axe_dir="${XDG_CACHE_HOME:-$HOME/.cache}/xmpp-invites-test/axe-core-$axe_version"
if [ ! -f "$axe_dir/axe-core.tgz" ]; then
	command -v curl >/dev/null 2>&1 || need+=(curl)
	[ -f /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates)
fi
if [ ${#need[@]} -gt 0 ]; then
	if ! $install_deps; then
		echo "test.sh: missing Debian packages: ${need[*]}" >&2
		echo "test.sh: run ./test.sh --install-deps to install them (apt-get), or install them yourself" >&2
		exit 1
	fi
	echo "test.sh: installing ${need[*]}"
	sudo=""
	[ "$(id -u)" = 0 ] || sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change: $unformatted" >&2
	exit 1
fi
if ! go mod tidy -diff; then
	echo "go.mod or go.sum is not tidy: run go mod tidy" >&2
	exit 1
fi
go vet ./...

mkdir -p "$axe_dir"
if [ ! -f "$axe_dir/axe-core.tgz" ]; then
	echo "test.sh: downloading axe-core $axe_version from registry.npmjs.org"
	curl -fsSL --proto =https -o "$axe_dir/axe-core.tgz.part" \
		"https://registry.npmjs.org/axe-core/-/axe-core-$axe_version.tgz"
	mv "$axe_dir/axe-core.tgz.part" "$axe_dir/axe-core.tgz"
fi
want=$(printf '%s' "${axe_integrity#sha512-}" | base64 -d | od -An -v -tx1 | tr -d ' \n')
got=$(sha512sum "$axe_dir/axe-core.tgz" | cut -d' ' -f1)
if [ "$got" != "$want" ]; then
	rm -f "$axe_dir/axe-core.tgz" "$axe_dir/axe.min.js"
	echo "test.sh: axe-core-$axe_version.tgz does not match its pinned integrity; removed, run again" >&2
	exit 1
fi
tar -xzf "$axe_dir/axe-core.tgz" -C "$axe_dir" --strip-components=1 package/axe.min.js
export XMPP_INVITES_AXE="$axe_dir/axe.min.js"

go test -race -count=1 -timeout 20m ./...

# Fuzz targets: a short, bounded run each on top of the committed corpora.
# Budgets are execution counts (about 10 s each here), not durations: a
# duration-based -fuzztime can fail spuriously with "context deadline
# exceeded" when it ends mid-execution (golang/go#75804, unfixed in Go 1.26).
# FUZZSCALE multiplies every budget (e.g. FUZZSCALE=10 for a longer run).
scale="${FUZZSCALE:-1}"
budget() {
	case "$1" in
	FuzzAuthenticate | FuzzParseTTL | FuzzPrepareUsername) echo 300000 ;;
	FuzzLookup) echo 50000 ;;
	FuzzInvitesAPI) echo 40000 ;;
	FuzzIncomingStanza) echo 12000 ;;
	*) echo 10000 ;;
	esac
}
for target in $(grep -rhoE '^func Fuzz[A-Za-z0-9_]+' --include='*_test.go' . | sed 's/^func //' | sort -u); do
	pkg=$(dirname "$(grep -rlE "^func ${target}\(" --include='*_test.go' . | head -1)")
	n=$(($(budget "$target") * scale))
	echo "fuzz: $pkg $target (${n} inputs)"
	go test -run='^$' -fuzz="^${target}\$" -fuzztime="${n}x" "$pkg"
done
