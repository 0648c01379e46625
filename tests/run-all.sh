#!/bin/bash
# Build and run every test, twice:
#   build/       the normal build, with cc (gcc): static agent when musl-gcc
#                or static glibc is available
#   build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer, leak checks
#                on, agent built as an ordinary (sanitized) executable; with
#                clang when it is installed, so that every test runs under
#                both compilers
# then build the way packagers do, running the unit tests there:
#   build-release/  --buildtype=release (-O3, what a distribution builds),
#                   installed into build-release/prefix/ (a prefix the
#                   loader does not search) and run from there with an
#                   empty environment: no LD_LIBRARY_PATH needed
# Warnings are errors in all three (-Dwerror=true; a plain 'meson setup'
# leaves them warnings). Installs nothing outside build-release/.
# Extra arguments go to both 'meson test' runs (for example --suite unit,
# or a test name); the release build is then left out.
#
# The last line is always "N passed, N failed": TAP subtests (C unit tests,
# bats tests) count one each, other meson tests one each; skips are not
# counted. Exits non-zero if anything failed or did not build.
set -eu

cd "$(dirname "$0")/.."

total_pass=0
total_fail=0
total_skip=0
# What failed, printed again at the end; also kept in MG_FAILURES when
# the caller names a file (.ci/run prints it after the fuzz targets).
failures=${MG_FAILURES:-}
if [[ -z $failures ]]; then
	failures=$(mktemp)
	trap 'rm -f "$failures"' EXIT
fi
: >"$failures"

say() {
	printf 'run-all: %s\n' "$*" >&2
}

# failed_step MESSAGE: a step that is not a test failed; it counts as one.
failed_step() {
	say "$*"
	printf '%s\n' "$*" >>"$failures"
	total_fail=$((total_fail + 1))
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
	counts=$(python3 - "$dir/meson-logs/testlog.json" "$dir" "$failures" <<'EOF'
import json, re, sys

GOOD = {"OK", "EXPECTEDFAIL"}
SKIP = {"SKIP"}
plan_re = re.compile(r"^1\.\.(\d+)")
line_re = re.compile(r"^(not ok|ok)\b[^#]*(#\s*(\w+))?", re.I)

passed = failed = skipped = 0
# What failed, with the diagnostics bats prints under it, goes to
# argv[3]: CI shows only the tail of a log, so it is printed again last.
report = open(sys.argv[3], "a", encoding="utf-8")

def note(name, lines):
    report.write("%s %s:\n" % (sys.argv[2], name))
    for line in lines[:25]:
        report.write("    %s\n" % line)
    if len(lines) > 25:
        report.write("    ... (%d more lines in %s/meson-logs/testlog.txt)\n"
                     % (len(lines) - 25, sys.argv[2]))

def note_result(t, result, lines):
    """A test that failed as a whole: its result and its last output."""
    last = lines[-15:] + (t.get("stderr") or "").splitlines()[-10:]
    note(t.get("name", "?"), ["result %s; the last output:" % result] + (last or ["(none)"]))

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
        lines = out.splitlines()
        for i, line in enumerate(lines):
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
                tail = [line]
                for more in lines[i + 1:]:
                    if not more.startswith("#"):
                        break
                    tail.append(more)
                note(t.get("name", "?"), tail)
        if plan is None and p + f_ + s == 0:
            # Not TAP: the meson test is one test.
            if result in GOOD:
                p = 1
            elif result in SKIP:
                s = 1
            else:
                f_ = 1
                note_result(t, result, lines)
        elif result not in GOOD and result not in SKIP:
            # Crashed, timed out or lied about its plan: make it count.
            seen = p + f_ + s
            if f_ == 0 or (plan is not None and plan > seen):
                note_result(t, result, lines)
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
		failed_step "$dir: cannot read the test log"
		return
	}
	read -r p f s <<<"$counts"
	say "$dir: $p passed, $f failed, $s skipped"
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	total_skip=$((total_skip + s))
}

# suite DIR TEST-ENV... -- MESON-OPTIONS...: configure, build and test DIR;
# sets suite_built to true when DIR did build.
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

	suite_built=false
	say "== $dir: configure (at ${SECONDS} s)"
	if ! configure "$dir" "${opts[@]}"; then
		failed_step "$dir: configure failed"
		return
	fi
	say "== $dir: build (at ${SECONDS} s)"
	if ! meson compile -C "$dir"; then
		failed_step "$dir: build failed"
		return
	fi
	suite_built=true
	say "== $dir: test (at ${SECONDS} s)"
	rm -f "$dir/meson-logs/testlog.json"
	env "${envs[@]}" meson test -C "$dir" --print-errorlogs \
		"${suite_test_args[@]}" "${test_args[@]}" </dev/null || true
	if [[ ! -f $dir/meson-logs/testlog.json ]]; then
		failed_step "$dir: meson test wrote no log"
		return
	fi
	count "$dir"
}

test_args=("$@")

# The command-line tests are one meson test per file and mostly wait (on
# logins, timers, signals): one more at a time than there are CPUs.
threads_build=${MESON_TESTTHREADS:-}
if [[ -z ${MESON_TESTTHREADS:-} ]]; then
	MESON_TESTTHREADS=$(($(nproc 2>/dev/null || echo 1) + 1))
	export MESON_TESTTHREADS
	# The plain build's files mostly wait (logins, timers, signals): one
	# more at once there took its cli suite from about 375 s to 331 on 2
	# CPUs. The sanitizer build's are busier: they keep CPUs + 1.
	threads_build=$((MESON_TESTTHREADS + 1))
fi

opts_build=(-Dwerror=true -Db_sanitize=none -Dstatic_agent=auto)
# shellcheck disable=SC2054 # one option, its value a list
opts_asan=(-Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false -Dstatic_agent=disabled)
opts_release=(-Dwerror=true --buildtype=release "--prefix=$PWD/build-release/prefix"
	-Db_sanitize=none -Dstatic_agent=auto)
full=false
if [[ ${#test_args[@]} -eq 0 ]]; then
	full=true
fi
have_clang=false
if command -v clang >/dev/null 2>&1; then
	have_clang=true
fi

suite_test_args=()
suite build MESON_TESTTHREADS="$threads_build" -- "${opts_build[@]}"

# Sanitizers slow everything down.
suite_test_args=(--timeout-multiplier=3)
# Its agents are dynamic, too large to ride in an ssh command: the
# fused ssh/sudo tests (260) borrow the plain build's static exec-only one.
asan_env=(MG_FUSE_LITE="$PWD/build/cmd/mitogen-agent-lite"
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1)
# The second compiler builds this one: its warnings, and the whole suite
# under it, in the time a separate clang build of the unit tests took
# (about 2.5 minutes of a run that must end within CI's limit).
if $have_clang; then
	CC=clang suite build-asan "${asan_env[@]}" -- "${opts_asan[@]}"
else
	say "build-asan: clang not found (apt-get install clang): built with cc"
	total_skip=$((total_skip + 1))
	suite build-asan "${asan_env[@]}" -- "${opts_asan[@]}"
fi

# install_check DIR: install DIR into its prefix (DIR/prefix, emptied
# first) and run the installed mitogen-run with an empty environment: it
# must find the installed libmitogen through its rpath. One test.
install_check() {
	local dir=$1 prefix=$PWD/$1/prefix log
	say "== $dir: install into $prefix"
	log=$(mktemp)
	if ! rm -rf "$prefix"; then
		say "$dir: cannot empty $prefix"
	elif ! meson install -C "$dir" --quiet >"$log" 2>&1; then
		cat "$log" >&2
		say "$dir: meson install failed"
	elif ! env -i PATH=/usr/bin:/bin "$prefix/bin/mitogen-run" local -- true >"$log" 2>&1; then
		cat "$log" >&2
		say "$dir: the installed mitogen-run does not run without LD_LIBRARY_PATH"
	elif ! env -i PATH=/usr/bin:/bin ldd "$prefix/bin/mitogen-run" >"$log" 2>&1 ||
		! grep -q "libmitogen\.so\.0 => $prefix/" "$log"; then
		cat "$log" >&2
		say "$dir: the installed mitogen-run does not load the installed libmitogen"
	else
		rm -f "$log"
		say "$dir: the installed mitogen-run runs"
		total_pass=$((total_pass + 1))
		return
	fi
	rm -f "$log"
	failed_step "$dir: the install check failed (above)"
}

if $full; then
	suite_test_args=(--suite unit)
	suite build-release -- "${opts_release[@]}"
	if $suite_built; then
		install_check build-release
	fi
fi

if [[ $total_skip -gt 0 ]]; then
	say "$total_skip skipped"
fi
if [[ -s $failures ]]; then
	say "what failed:"
	cat "$failures" >&2
fi
printf '%d passed, %d failed\n' "$total_pass" "$total_fail"
if [[ $total_fail -gt 0 ]]; then
	exit 1
fi
exit 0
