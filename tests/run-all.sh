#!/bin/bash
# Build and run every test, twice:
#   build/       the normal build (static agent when musl-gcc or static
#                glibc is available)
#   build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer, leak checks
#                on, agent built as an ordinary (sanitized) executable
# Installs nothing. Extra arguments go to both 'meson test' runs (for
# example --suite unit, or a test name).
#
# The last line is always "N passed, N failed": TAP subtests (C unit tests,
# bats tests) count one each, other meson tests one each; skips are not
# counted. Exits non-zero if anything failed or did not build.
set -eu

cd "$(dirname "$0")/.."

total_pass=0
total_fail=0
total_skip=0

say() {
	printf 'run-all: %s\n' "$*" >&2
}

# configure DIR [MESON OPTIONS...]: set up DIR, or reconfigure it in place.
configure() {
	local dir=$1
	shift
	if [[ -f $dir/meson-private/coredata.dat ]]; then
		meson setup --reconfigure "$dir" "$@" ||
			meson setup --wipe "$dir" "$@"
	elif [[ -e $dir ]]; then
		say "$dir exists but is not a meson build directory; not touching it"
		return 1
	else
		meson setup "$dir" "$@"
	fi
}

# count DIR: add the results in DIR/meson-logs/testlog.json to the totals.
count() {
	local dir=$1 counts p f s
	counts=$(python3 - "$dir/meson-logs/testlog.json" <<'EOF'
import json, re, sys

GOOD = {"OK", "EXPECTEDFAIL"}
SKIP = {"SKIP"}
plan_re = re.compile(r"^1\.\.(\d+)")
line_re = re.compile(r"^(not ok|ok)\b[^#]*(#\s*(\w+))?", re.I)

passed = failed = skipped = 0
with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
    for raw in f:
        raw = raw.strip()
        if not raw:
            continue
        t = json.loads(raw)
        result = t.get("result", "ERROR")
        out = t.get("stdout") or ""
        plan = None
        p = f_ = s = 0
        for line in out.splitlines():
            m = plan_re.match(line)
            if m and plan is None:
                plan = int(m.group(1))
                continue
            m = line_re.match(line)
            if not m:
                continue
            directive = (m.group(3) or "").lower()
            if directive == "skip":
                s += 1
            elif m.group(1).lower() == "ok":
                p += 1
            elif directive == "todo":
                pass
            else:
                f_ += 1
        if plan is None and p + f_ + s == 0:
            # Not TAP: the meson test is one test.
            if result in GOOD:
                p = 1
            elif result in SKIP:
                s = 1
            else:
                f_ = 1
        elif result not in GOOD and result not in SKIP:
            # Crashed, timed out or lied about its plan: make it count.
            seen = p + f_ + s
            if plan is not None and plan > seen:
                f_ += plan - seen
            if f_ == 0:
                f_ = 1
        passed += p
        failed += f_
        skipped += s
print(passed, failed, skipped)
EOF
	) || {
		say "$dir: cannot read the test log"
		total_fail=$((total_fail + 1))
		return
	}
	read -r p f s <<<"$counts"
	say "$dir: $p passed, $f failed, $s skipped"
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	total_skip=$((total_skip + s))
}

# suite DIR TEST-ENV... -- MESON-OPTIONS...: configure, build and test DIR.
suite() {
	local dir=$1
	shift
	local -a envs=() opts=()
	while [[ $# -gt 0 && $1 != -- ]]; do
		envs+=("$1")
		shift
	done
	shift
	opts=("$@")

	say "== $dir: configure"
	if ! configure "$dir" "${opts[@]}"; then
		say "$dir: configure failed"
		total_fail=$((total_fail + 1))
		return
	fi
	say "== $dir: build"
	if ! meson compile -C "$dir"; then
		say "$dir: build failed"
		total_fail=$((total_fail + 1))
		return
	fi
	say "== $dir: test"
	rm -f "$dir/meson-logs/testlog.json"
	env "${envs[@]}" meson test -C "$dir" --print-errorlogs \
		"${suite_test_args[@]}" "${test_args[@]}" </dev/null || true
	if [[ ! -f $dir/meson-logs/testlog.json ]]; then
		say "$dir: meson test wrote no log"
		total_fail=$((total_fail + 1))
		return
	fi
	count "$dir"
}

test_args=("$@")

suite_test_args=()
suite build \
	-- \
	-Db_sanitize=none -Dstatic_agent=auto

# Sanitizers slow everything down.
suite_test_args=(--timeout-multiplier=3)
suite build-asan \
	ASAN_OPTIONS=detect_leaks=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	-- \
	-Db_sanitize=address,undefined -Db_lundef=false -Dstatic_agent=disabled

if [[ $total_skip -gt 0 ]]; then
	say "$total_skip skipped"
fi
printf '%d passed, %d failed\n' "$total_pass" "$total_fail"
if [[ $total_fail -gt 0 ]]; then
	exit 1
fi
exit 0
