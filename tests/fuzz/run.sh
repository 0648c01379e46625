#!/bin/bash
# Build the libFuzzer targets in build-fuzz/ (clang, -Dfuzz=enabled,
# AddressSanitizer + UndefinedBehaviorSanitizer) and run each for a
# bounded time on its seed corpus, tests/fuzz/corpus/TARGET/.
#
#   tests/fuzz/run.sh [TARGET...]     all targets when none is named
#
# Environment: FUZZ_SECONDS (per target, default 60), FUZZ_JOBS (targets
# at once, default the CPU count), FUZZ_RSS_MB (memory limit per target,
# default 2048), CC (default clang).
#
# Each target prints "fuzz: TARGET ok" or "fuzz: TARGET FAILED" with the
# input that crashed it, kept in build-fuzz/fuzz-work/TARGET/: fix the bug
# and copy that input into tests/fuzz/corpus/TARGET/ as a regression test
# (every input there is run first, each time). The last line is always
# "N passed, N failed", one test per target (a target that cannot run
# here, say without seccomp, is skipped and not counted). Exits non-zero
# if a target failed or the build did.
set -eu

cd "$(dirname "$0")/../.."

seconds=${FUZZ_SECONDS:-60}
rss_mb=${FUZZ_RSS_MB:-2048}
dir=build-fuzz
work=$dir/fuzz-work
export CC=${CC:-clang}

say() {
	printf 'fuzz: %s\n' "$*" >&2
}

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
	targets=()
	for c in tests/fuzz/fuzz-*.c; do
		t=${c#tests/fuzz/fuzz-}
		targets+=("${t%.c}")
	done
fi

# shellcheck disable=SC2054 # one option, its value a list
opts=(-Dfuzz=enabled -Db_sanitize=address,undefined -Db_lundef=false
	-Dstatic_agent=disabled -Dtests=false -Dman-pages=disabled)

# A directory set up with another compiler is wiped (CC applies then).
configure() {
	if [[ -f $dir/meson-private/coredata.dat ]]; then
		meson setup --reconfigure "$dir" "${opts[@]}" ||
			meson setup --wipe "$dir" "${opts[@]}"
	else
		meson setup "$dir" "${opts[@]}"
	fi
}

build_log=$(mktemp)
if ! { configure && meson compile -C "$dir"; } >"$build_log" 2>&1; then
	tail -n 30 "$build_log" >&2
	rm -f "$build_log"
	say "cannot build the fuzz targets in $dir (CC=$CC: clang and libclang-rt-14-dev are needed)"
	echo "0 passed, 1 failed"
	exit 1
fi
rm -f "$build_log"

# UBSan reports are failures too; leaks are checked after every input.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allow_addr2line=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

# run_one TARGET: fuzz it; its verdict goes to $work/TARGET/verdict
# (ok, skip or fail), to be reported in order once all have run.
run_one() {
	local t=$1 exe=$dir/tests/fuzz/fuzz-$1 seeds=tests/fuzz/corpus/$1 rc=0
	rm -rf "${work:?}/$t"
	mkdir -p "$work/$t/corpus"
	if [[ ! -x $exe || ! -d $seeds ]]; then
		echo "no $exe or no $seeds" >"$work/$t/log"
		echo fail >"$work/$t/verdict"
		return
	fi
	# New inputs go to the work corpus; the seeds are only read.
	timeout --kill-after=30 $((seconds + 300)) "$exe" \
		-max_total_time="$seconds" -rss_limit_mb="$rss_mb" -timeout=25 \
		-max_len=65536 -error_exitcode=1 -timeout_exitcode=1 \
		-artifact_prefix="$work/$t/" -print_final_stats=1 \
		"$work/$t/corpus" "$seeds" </dev/null >"$work/$t/log" 2>&1 || rc=$?
	case $rc in
	0) echo ok ;;
	77) echo skip ;;
	*) echo "fail $rc" ;;
	esac >"$work/$t/verdict"
}

# Each target is one process on one CPU: FUZZ_JOBS (default: the CPU
# count) run at once.
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
for t in "${targets[@]}"; do
	while [[ $(jobs -rp | wc -l) -ge $jobs ]]; do
		wait -n || true
	done
	run_one "$t" &
done
wait

pass=0
fail=0
skip=0
for t in "${targets[@]}"; do
	exe=$dir/tests/fuzz/fuzz-$t
	log=$work/$t/log
	rc=
	read -r verdict rc 2>/dev/null <"$work/$t/verdict" || verdict=fail
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" 2>/dev/null | tail -n 1)
	if [[ $verdict == ok ]]; then
		say "$t ok (${runs:-?} inputs in ${seconds}s)"
		pass=$((pass + 1))
	elif [[ $verdict == skip ]]; then
		say "$t skipped: $(tail -n 1 "$log")"
		skip=$((skip + 1))
	else
		say "$t FAILED (exit ${rc:-?}); the log: $log"
		grep -E -A 30 'ERROR|check failed|deadly signal|==[0-9]+==' "$log" | head -n 60 >&2 || tail -n 40 "$log" >&2
		for a in "$work/$t"/crash-* "$work/$t"/leak-* "$work/$t"/timeout-* "$work/$t"/oom-*; do
			if [[ -f $a ]]; then
				say "$t: the input: $a (reproduce: $exe $a)"
			fi
		done
		fail=$((fail + 1))
	fi
done
if [[ $skip -gt 0 ]]; then
	say "$skip skipped"
fi
printf '%d passed, %d failed\n' "$pass" "$fail"
[[ $fail -eq 0 ]]
