#!/bin/sh
# Prints the version packaging/deb.sh stamps into the binary and the package, from git:
#   on the tag v1.2.3                 1.2.3
#   3 commits after v1.2.3            1.2.3+3.gabc1234
#   no v* tag yet                     0.0.0+gabc1234
# and ".dirty" is added after a "+" part (or "+dirty") when the work tree has uncommitted
# changes. Debian orders these correctly: 1.2.3 < 1.2.3+3.gabc1234 < 1.2.4.
set -eu
cd "$(dirname "$0")/.."
if ! git rev-parse --git-dir >/dev/null 2>&1; then
	echo "version.sh: not a git checkout: set VERSION (e.g. VERSION=1.0.0)" >&2
	exit 2
fi
dirty=""
[ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] || dirty="dirty"
if desc=$(git describe --tags --long --match 'v[0-9]*' --abbrev=7 2>/dev/null); then
	# v1.2.3-3-gabc1234: the tag may itself contain dashes (v1.2.3-rc1), so cut from the end.
	hash=${desc##*-}
	rest=${desc%-*}
	count=${rest##*-}
	base=${rest%-*}
	base=${base#v}
	# A pre-release tag v1.2.3-rc1 becomes 1.2.3~rc1, which Debian orders before 1.2.3.
	base=$(printf %s "$base" | tr - "~")
	meta=""
	[ "$count" = 0 ] || meta="$count.$hash"
else
	base="0.0.0"
	meta="g$(git rev-parse --short=7 HEAD)"
fi
if [ -n "$dirty" ]; then
	meta="${meta:+$meta.}$dirty"
fi
echo "$base${meta:++$meta}"
