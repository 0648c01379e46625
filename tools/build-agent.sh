#!/bin/sh
# Build mitogen-agent as a fully static, stripped executable.
#
#   build-agent.sh OUTPUT SRCROOT BUILDROOT INPUT.c...
#
# Called by cmd/meson.build (custom_target) from the build directory, so
# relative INPUTS are relative to the current directory (or BUILDROOT).
# Prefers musl-gcc (Debian's musl-tools), with talloc's subset in
# tools/agent-talloc.c; falls back to 'cc -static' with glibc and Debian's
# libtalloc.a. Also writes OUTPUT.d, a make-style depfile listing every
# header the sources read.
#
# Environment (all optional): MG_AGENT_MUSL (default musl-gcc), MG_AGENT_CC
# (the glibc fallback compiler, default cc), MG_AGENT_NO_MUSL=1 (force the
# glibc fallback), MG_AGENT_VARIANT=exec-only (mitogen-agent-lite; meson
# sets it for each agent, empty for the whole one).
# Quiet on success; on failure, a message on stderr and a non-zero status.

set -eu

prog=build-agent.sh

die() {
	printf '%s: %s\n' "$prog" "$*" >&2
	exit 1
}

[ "$#" -ge 4 ] || die "usage: $prog OUTPUT SRCROOT BUILDROOT INPUT.c..."

output=$1
srcroot=$2
buildroot=$3
shift 3

[ -d "$srcroot" ] || die "source root '$srcroot' is not a directory"
[ -d "$buildroot" ] || die "build root '$buildroot' is not a directory"
[ -f "$srcroot/tools/agent-compat.c" ] || die "missing $srcroot/tools/agent-compat.c"

# Resolve inputs: as given, else relative to BUILDROOT. Only .c files are
# compiled; anything else meson hands over (headers) is ignored.
set -- "$@" --end--
while [ "$1" != --end-- ]; do
	f=$1
	shift
	case $f in
	*.c) ;;
	*) continue ;;
	esac
	if [ ! -f "$f" ] && [ -f "$buildroot/$f" ]; then
		f=$buildroot/$f
	fi
	[ -f "$f" ] || die "input '$f' not found"
	set -- "$@" "$f"
done
shift # --end--
[ "$#" -gt 0 ] || die "no C sources given"

# The library's layers, each a folder of private headers (lib/meson.build).
priv_inc=
for d in "$srcroot/lib" "$srcroot/lib/core" "$srcroot/lib/chain" "$srcroot/lib/hop" \
	"$srcroot/lib/svc" "$srcroot/lib/session"; do
	priv_inc="$priv_inc -iquote $d"
done

triplet=$(gcc -print-multiarch 2>/dev/null || true)
[ -n "$triplet" ] || triplet=$(cc -dumpmachine 2>/dev/null || true)
[ -n "$triplet" ] || die "cannot determine the multiarch triplet (gcc -print-multiarch)"

# Every byte is pushed to every hop (issue 11: at most 96 KiB on the
# wire). Measured on the musl build, stripped: link-time optimisation
# -16 KB, no PIE -4 KB, no RELRO or separate code segment -7 KB of page
# padding (which compresses to nothing, but counts raw).
# Where the bytes go (December 2026, 210 KB plain, from -Wl,-Map without
# LTO and nm): our code and strings 111 KB (largest: hop/conn.c 9 KB,
# core/router.c 8, connect/setns.c 6, svc/file-unpack.c 6, svc-exec.c 5,
# file-pack.c 5, core/stream.c 5, core/loop.c 5, connect/ssh.c 4), talloc
# 26 KB (Debian's one object: all of it, whatever we call; now the 2.5 KB
# subset of tools/agent-talloc.c, 173 KB plain), musl 45 KB (malloc 8,
# strerror's table 2, posix_spawn 2, getpw and nscd 3, stdio 4), read-only
# data 35 KB. Gone from musl: printf's float formatting,
# strtod's scanner, strftime and time zones, qsort, two-way strstr,
# getusershell's fmemopen, sysconf (tools/agent-libc.c, and the library
# reading seconds, log stamps and /etc/shells by hand): 32 KB.
# Packed (below): stub 5.1 KB + payload 92.2 KB; 87.3 KB in all since
# the talloc subset and the empty __location__ (below).
# __location__ is empty: talloc's macros otherwise pass a "file:line"
# string from every call site (talloc_free, talloc_new, talloc_steal...),
# only for its leak reports, which the agent never prints: 12 KB plain,
# 2.4 KB packed. Type names (talloc_get_type_abort) are untouched.
# Some optimisations of -Os are off: their code is as large or larger
# once packed (measured one by one, December 2026; together 1.3 KB fewer
# on the wire). None changes what the program does. The last two lines
# (measured one by one, then together, on the packed whole agent: 3.4 KB
# fewer, and 1.6 KB fewer plain): the scheduler's reordering (2.4 KB of
# it) and the others make code that LZMA finds fewer repeats in, for no
# speed we could measure (lib/core/deflate.c and inflate.c, 1.5 MB of C
# source: within noise). -fno-peephole2 would save 340 bytes more but
# add 5.7 KB plain.
common_flags="-std=gnu11 -D_GNU_SOURCE -DMG_STATIC_AGENT -D__location__=\"\" -Os
	-ffunction-sections -fdata-sections -flto=auto -flto-partition=one -fno-pie -fno-ident
	-fno-asynchronous-unwind-tables -fno-unwind-tables
	-fno-tree-tail-merge -fno-shrink-wrap -fno-partial-inlining -fno-ipa-sra
	-fno-optimize-sibling-calls -fno-if-conversion -fno-if-conversion2 -fno-ipa-modref
	-fno-schedule-insns2 -fno-caller-saves -fno-tree-loop-optimize -fno-tree-dominator-opts
	-fno-tree-reassoc -fno-ira-hoist-pressure"
# MG_AGENT_VARIANT=exec-only (meson sets it for mitogen-agent-lite): the
# agent without its CONNECT, CALL and file services (lib/session/agent.c).
# Its payload is deflate, not LZMA: 10% more bytes, but inflated in 0.3
# ms instead of 2.8 at every start, and it is the agent of a command's
# cold start (the whole agent keeps LZMA: deflate would take it past 96
# KiB). The stub then links lib/core/inflate.c instead of the LZMA decoder.
stub_dec="$srcroot/cmd/agent-stub/unlzma.c"
stub_def=
pack_opt=
case ${MG_AGENT_VARIANT:-} in
'') ;;
exec-only)
	common_flags="$common_flags -DMG_AGENT_EXEC_ONLY"
	stub_dec="$stub_dec $srcroot/cmd/agent-stub/uninflate.c $srcroot/lib/core/inflate.c"
	stub_def=-DMG_STUB_INFLATE
	pack_opt=--deflate
	;;
# MG_AGENT_VARIANT=leaf: mitogen-agent-leaf (cmd/agent-leaf, PROTOCOL 2.3.4),
# its own few sources and no library: no talloc, nothing of agent-libc.c.
leaf)
	stub_dec="$stub_dec $srcroot/cmd/agent-stub/uninflate.c $srcroot/lib/core/inflate.c"
	stub_def=-DMG_STUB_INFLATE
	pack_opt=--deflate
	;;
*) die "unknown MG_AGENT_VARIANT '$MG_AGENT_VARIANT'" ;;
esac
link_flags="-static -no-pie -Wl,--gc-sections -Wl,--build-id=none
	-Wl,-z,norelro -Wl,-z,noseparate-code -s"

musl=${MG_AGENT_MUSL:-musl-gcc}
if [ "${MG_AGENT_NO_MUSL:-0}" != 1 ] && command -v "$musl" >/dev/null 2>&1; then
	kind=musl
	cc=$musl
	# musl-gcc must not see glibc's /usr/include: give it a private copy
	# of the one header it needs from there.
	inc=$buildroot/agent-include
	mkdir -p "$inc" || die "cannot create $inc"
	h=/usr/include/talloc.h
	[ -f "$h" ] || die "$h not found (install libtalloc-dev)"
	dst=$inc/talloc.h
	if ! cmp -s "$h" "$dst"; then
		if ! { cp "$h" "$dst.tmp" && mv "$dst.tmp" "$dst"; }; then
			die "cannot copy $h to $inc"
		fi
	fi
	# Kernel UAPI headers work with musl; link them for <linux/...>.
	for d in linux asm-generic "$triplet/asm:asm"; do
		case $d in
		*:*) src=/usr/include/${d%%:*} name=${d##*:} ;;
		*) src=/usr/include/$d name=$d ;;
		esac
		if [ -d "$src" ] && [ ! -e "$inc/$name" ]; then
			ln -sfn "$src" "$inc/$name" || die "cannot link $src into $inc"
		fi
	done
	# lib/*/ hold private headers included with quotes; -iquote keeps
	# a name there from hiding a system header of the same name.
	inc_flags="$priv_inc -I$srcroot/lib/include -I$buildroot -I$inc"
	# talloc: the subset the library calls (tools/agent-talloc.c), not
	# Debian's libtalloc.a, one object linked whole (26 KB).
	extra_src="$srcroot/tools/agent-compat.c $srcroot/tools/agent-libc.c $srcroot/tools/agent-talloc.c"
	talloc_a=
	common_flags="$common_flags -U_FORTIFY_SOURCE"
else
	kind=glibc
	cc=${MG_AGENT_CC:-cc}
	command -v "$cc" >/dev/null 2>&1 || die "no compiler: neither musl-gcc nor $cc found"
	inc_flags="$priv_inc -I$srcroot/lib/include -I$buildroot"
	extra_src=
	libdir=
	for d in "/usr/lib/$triplet" /usr/lib64 /usr/lib; do
		if [ -f "$d/libtalloc.a" ]; then
			libdir=$d
			break
		fi
	done
	[ -n "$libdir" ] || die "libtalloc.a not found in /usr/lib/$triplet (install libtalloc-dev)"

	# talloc's .eh_frame (5 KB, 1.9 KB packed) serves only unwinders, which
	# nothing in the agent uses (no C++, no backtraces, no registration by
	# crtbegin in a static program): link a copy without it.
	talloc_a=$libdir/libtalloc.a
	if "${OBJCOPY:-objcopy}" -R .eh_frame -R .rela.eh_frame "$talloc_a" \
		"$buildroot/agent-talloc.a.tmp" 2>/dev/null; then
		mv -f "$buildroot/agent-talloc.a.tmp" "$buildroot/agent-talloc.a" ||
			die "cannot write $buildroot/agent-talloc.a"
		talloc_a=$buildroot/agent-talloc.a
	else
		rm -f "$buildroot/agent-talloc.a.tmp"
	fi
fi

if [ "${MG_AGENT_VARIANT:-}" = leaf ]; then
	extra_src=
	talloc_a=
fi

tmp=$output.tmp.$$
log=$output.log.$$
trap 'rm -f "$tmp" "$tmp.stub" "$tmp.packed" "$tmp.raw" "$tmp".*.o "$log" "$output.d.tmp" "$output.d.tmp2"' EXIT
trap 'exit 130' INT TERM HUP

mkdir -p "$(dirname "$output")" || die "cannot create the directory of $output"

# $common_flags, $inc_flags, $link_flags and $extra_src are word-split on
# purpose; paths with spaces are not supported there.
# shellcheck disable=SC2086
if ! "$cc" $common_flags $inc_flags -o "$tmp" "$@" $extra_src \
	${talloc_a:+"$talloc_a"} $link_flags >"$log" 2>&1; then
	cat "$log" >&2
	die "building the static agent with $cc ($kind) failed"
fi
# Warnings are worth seeing even on success.
if [ -s "$log" ]; then
	cat "$log" >&2
fi

# Depfile: one rule, OUTPUT depends on every source and header read.
# shellcheck disable=SC2086
if "$cc" $common_flags $inc_flags -MM -MT "$output" "$@" >"$output.d.tmp" 2>"$log"; then
	awk -v out="$output" -v extra="$extra_src $srcroot/cmd/agent-stub/stub.c $srcroot/cmd/agent-stub/unlzma.c $srcroot/cmd/agent-stub/unlzma.h $srcroot/cmd/agent-stub/uninflate.c $srcroot/lib/core/inflate.c $srcroot/lib/core/deflate.h $srcroot/tools/pack-agent.py" '
		{ sub(/\\$/, ""); for (i = 1; i <= NF; i++) if ($i !~ /:$/) seen[$i] = 1 }
		END { n = split(extra, x, " "); for (i = 1; i <= n; i++) seen[x[i]] = 1
			printf "%s:", out; for (f in seen) printf " \\\n %s", f; printf "\n" }
	' "$output.d.tmp" >"$output.d.tmp2" || die "cannot write $output.d"
	mv "$output.d.tmp2" "$output.d" || die "cannot write $output.d"
else
	cat "$log" >&2
	die "computing dependencies with $cc failed"
fi

# Sanity checks: it must run anywhere, with no loader.
if command -v file >/dev/null 2>&1; then
	desc=$(file -b "$tmp")
	case $desc in
	*"statically linked"* | *"static-pie linked"*) ;;
	*) die "$tmp is not static: $desc" ;;
	esac
fi
if command -v readelf >/dev/null 2>&1 && readelf -l "$tmp" 2>/dev/null | grep -q INTERP; then
	die "$tmp has a program interpreter (not static)"
fi

# The self-inflating form, what every hop receives: a stub of a few KB
# (cmd/agent-stub, no libc) followed by the agent compressed with LZMA
# (tools/pack-agent.py, Python's own lzma module; deflate for the
# exec-only agent, above). The plain agent stays
# beside it as OUTPUT.raw (tests compare the two). MG_AGENT_PACK=0, or
# a machine the stub does not know (x86_64 and aarch64 only), keeps the
# plain agent: larger on the wire, otherwise the same.
# The decoder is built -Os (each hop's start waits for it), but for
# unlzma.c -Oz: 69 bytes fewer in ssh's command and, since bit() has no
# branch on the bit, as fast (gcc 12, 20 runs of each, the whole agent
# and the exec-only one: within 5%, either way; before that, -Oz was 40%
# slower: measure again with another compiler). The rest of the stub
# runs once: -Oz. The stub is linked at 0x10100000, not 0x400000: the
# addresses in its code (32-bit immediates) then hold no NUL byte, each
# a byte more in ssh's command (lib/hop/boot.c esc_len). GNU ld's option
# (lld calls it --image-base).
if [ "${MG_AGENT_PACK:-1}" = 1 ]; then
	stub_dir=$srcroot/cmd/agent-stub
	stub_cc="${MG_AGENT_CC:-cc} -std=gnu11 -Wall -Wextra -Werror -ffreestanding -nostdlib
		-fno-pie -fno-stack-protector -fno-asynchronous-unwind-tables
		-fno-unwind-tables -fno-ident -ffunction-sections -fdata-sections"
	# shellcheck disable=SC2086 # $stub_cc, $stub_dec are split on purpose
	stub_objs= stub_ok=true
	: >"$log"
	for src in $stub_dec; do
		obj=$tmp.$(basename "$src" .c).o
		opt=-Os
		case $src in
		*/unlzma.c) opt=-Oz ;;
		esac
		$stub_cc $opt -I"$srcroot/lib/core" -c -o "$obj" "$src" >>"$log" 2>&1 || stub_ok=false
		stub_objs="$stub_objs $obj"
	done
	# shellcheck disable=SC2086
	if $stub_ok &&
		$stub_cc -Oz -static -no-pie -Wl,--gc-sections -Wl,--build-id=none \
			-Wl,-z,norelro -Wl,-z,noseparate-code -Wl,-z,noexecstack -s \
			-Wl,-Ttext-segment=0x10100000 \
			$stub_def -I"$srcroot/lib/core" \
			-o "$tmp.stub" "$stub_dir/stub.c" $stub_objs >>"$log" 2>&1 &&
		"${MG_PYTHON:-python3}" "$srcroot/tools/pack-agent.py" $pack_opt "$tmp.stub" "$tmp" \
			"$tmp.packed" "$tmp.raw" >>"$log" 2>&1; then
		mv -f "$tmp.raw" "$output.raw" || die "cannot move $tmp.raw to $output.raw"
		mv -f "$tmp.packed" "$tmp" || die "cannot move $tmp.packed"
	else
		sed 's/^/  /' "$log" >&2
		printf '%s: note: the agent is not packed (see above); hops receive it whole\n' "$prog" >&2
		rm -f "$output.raw"
	fi
	# shellcheck disable=SC2086
	rm -f "$tmp.stub" "$tmp.packed" "$tmp.raw" $stub_objs
else
	rm -f "$output.raw"
fi

chmod 0755 "$tmp" || die "cannot chmod $tmp"
mv -f "$tmp" "$output" || die "cannot move $tmp to $output"
