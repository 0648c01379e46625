#!/bin/sh
# Build a small standalone program (no libmitogen, no talloc) as a fully
# static, stripped executable, as build-agent.sh does for the agent:
# musl-gcc when there is one, else 'cc -static' with glibc.
#
#   build-static.sh OUTPUT INPUT.c...
#
# Environment (optional): MG_AGENT_MUSL, MG_AGENT_CC, MG_AGENT_NO_MUSL=1,
# as for build-agent.sh.
set -eu

prog=build-static.sh

die() {
	printf '%s: %s\n' "$prog" "$*" >&2
	exit 1
}

[ "$#" -ge 2 ] || die "usage: $prog OUTPUT INPUT.c..."
output=$1
shift

flags="-std=gnu11 -D_GNU_SOURCE -Os -Wall -Wextra -Werror
	-ffunction-sections -fdata-sections
	-fno-asynchronous-unwind-tables -fno-unwind-tables"
musl=${MG_AGENT_MUSL:-musl-gcc}
if [ "${MG_AGENT_NO_MUSL:-0}" != 1 ] && command -v "$musl" >/dev/null 2>&1; then
	cc=$musl
	flags="$flags -U_FORTIFY_SOURCE"
else
	cc=${MG_AGENT_CC:-cc}
	command -v "$cc" >/dev/null 2>&1 || die "no compiler: neither musl-gcc nor $cc found"
fi

# Only .c files are compiled; headers are inputs for meson's rebuilds.
srcs=
for f in "$@"; do
	case $f in
	*.c) srcs="$srcs $f" ;;
	esac
done
[ -n "$srcs" ] || die "no C sources given"

tmp=$output.tmp.$$
trap 'rm -f "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

# $flags and $srcs are word-split on purpose (no blanks in paths).
# shellcheck disable=SC2086
"$cc" $flags -o "$tmp" $srcs -static -Wl,--gc-sections -s ||
	die "building $output with $cc failed"
if command -v readelf >/dev/null 2>&1 && readelf -l "$tmp" 2>/dev/null | grep -q INTERP; then
	die "$tmp has a program interpreter (not static)"
fi
chmod 0755 "$tmp" || die "cannot chmod $tmp"
mv -f "$tmp" "$output" || die "cannot move $tmp to $output"
