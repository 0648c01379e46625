#!/usr/bin/env bats
# -*- bats -*-
# shellcheck disable=SC2154 # $stderr, $stderr_lines: set by run_mg_sep
#
# Usage conventions of every command: --help, usage errors, and options kept
# in sync between --help, the man page and the shell completions.

load helpers

# Long options in a --help text: only the option column of lines that start
# with an option (popt: "  -t, --connect-timeout=SECS   text").
function help_long_opts() {
    grep -E '^[[:space:]]+-' <<<"$1" |
        sed -E 's/^[[:space:]]+//; s/[[:space:]]{2,}.*$//' |
        grep -oE -- '--[a-z][a-z0-9-]*' | sort -u
}

# Long options named in the OPTIONS section of an scdoc man page: the
# option lines there start with '*-'.
function man_long_opts() {
    awk '/^# /{ in_opts = ($0 == "# OPTIONS") } in_opts && /^\*-/' "$1" |
        grep -oE -- '--[a-z][a-z0-9-]*' | sort -u
}

# Every long option mentioned anywhere in a completion file.
function completion_long_opts() {
    grep -oE -- '--[a-z][a-z0-9-]*' "$1" | sort -u
}

# "a b c" (newline-separated) minus "b": what is in $1 but not in $2.
function missing_from() {
    comm -23 <(printf '%s\n' "$1") <(printf '%s\n' "$2") | grep -v '^$' || true
}

# The commands with popt's conventions: all but fakessh, which reads
# ssh(1)'s command line (its own tests below).
function popt_commands() {
    mg_commands | grep -vx fakessh
}

@test "there are commands to check" {
    run mg_commands
    assert "$output" =~ "mitogen-run" "mg_commands lists mitogen-run"
}

@test "--help: exit 0, usage on stdout, nothing on stderr" {
    local cmd
    for cmd in $(popt_commands); do
        run_mg_sep 0 "$cmd" --help
        assert "$output" =~ "[Uu]sage:.*$cmd" "$cmd --help: usage line on stdout"
        assert "$stderr" == "" "$cmd --help: nothing on stderr"

        run_mg_sep 0 "$cmd" -h
        assert "$output" =~ "[Uu]sage:.*$cmd" "$cmd -h: usage line on stdout"
    done
}

@test "--usage and --version: exit 0, stdout" {
    local cmd
    for cmd in $(popt_commands); do
        run_mg_sep 0 "$cmd" --usage
        assert "$output" =~ "$cmd" "$cmd --usage names the program"
        assert "$stderr" == "" "$cmd --usage: nothing on stderr"

        run_mg_sep 0 "$cmd" --version
        assert "$output" =~ "[0-9]+\.[0-9]+" "$cmd --version prints a version"
        assert "$stderr" == "" "$cmd --version: nothing on stderr"
    done
}

@test "unknown option: exit 2, one-line hint on stderr" {
    local cmd
    for cmd in $(popt_commands); do
        run_mg_sep 2 "$cmd" --no-such-option local true
        assert "$output" == "" "$cmd: nothing on stdout for a usage error"
        assert "${#stderr_lines[@]}" -eq 1 "$cmd: the hint is one line"
        assert "$stderr" =~ "^$cmd: " "$cmd: the hint starts with the program name"
        assert "$stderr" =~ "no-such-option" "$cmd: the hint names the bad option"
    done
}

@test "missing arguments: exit 2, hint on stderr" {
    local cmd
    for cmd in $(popt_commands); do
        run_mg_sep 2 "$cmd"
        assert "$output" == "" "$cmd with no arguments: nothing on stdout"
        assert "$stderr" =~ "^$cmd: " "$cmd with no arguments: hint on stderr"
    done
}

@test "options agree between --help, man page and completions" {
    local cmd man bash_comp zsh_comp help man_opts bash_opts zsh_opts miss
    for cmd in $(popt_commands); do
        man=$MG_SRC_DIR/man/$cmd.1.scd
        bash_comp=$MG_SRC_DIR/completions/bash/$cmd
        zsh_comp=$MG_SRC_DIR/completions/zsh/_$cmd
        for f in "$man" "$bash_comp" "$zsh_comp"; do
            [[ -f $f ]] || die "$cmd: $f is missing"
        done

        run_mg_sep 0 "$cmd" --help
        help=$(help_long_opts "$output")
        assert "$help" != "" "$cmd --help lists long options"
        man_opts=$(man_long_opts "$man")
        bash_opts=$(completion_long_opts "$bash_comp")
        zsh_opts=$(completion_long_opts "$zsh_comp")

        miss=$(missing_from "$help" "$man_opts")
        assert "$miss" == "" "$cmd: options in --help but not in man/$cmd.1.scd"
        miss=$(missing_from "$man_opts" "$help")
        assert "$miss" == "" "$cmd: options in man/$cmd.1.scd OPTIONS but not in --help"
        miss=$(missing_from "$help" "$bash_opts")
        assert "$miss" == "" "$cmd: options in --help but not in completions/bash/$cmd"
        miss=$(missing_from "$bash_opts" "$help")
        assert "$miss" == "" "$cmd: options in completions/bash/$cmd but not in --help"
        miss=$(missing_from "$help" "$zsh_opts")
        assert "$miss" == "" "$cmd: options in --help but not in completions/zsh/_$cmd"
        miss=$(missing_from "$zsh_opts" "$help")
        assert "$miss" == "" "$cmd: options in completions/zsh/_$cmd but not in --help"
    done
}

# fakessh answers as ssh(1) does: no --help, ssh's message and usage text.
@test "fakessh: ssh's unknown option, usage and exit status 255" {
    run_mg_sep 255 fakessh --help
    assert "$output" == "" "nothing on stdout"
    assert "${stderr_lines[0]}" == "fakessh: unknown option -- -" "ssh's getopt message"
    assert "${stderr_lines[1]}" =~ "^usage: fakessh \[-46" "ssh's usage text follows"

    run_mg_sep 255 fakessh
    assert "${stderr_lines[0]}" =~ "^usage: fakessh " "no DEST: the usage text"
}

@test "fakessh: options agree between its usage, man page and completions" {
    local man=$MG_SRC_DIR/man/fakessh.1.scd bash_comp=$MG_SRC_DIR/completions/bash/fakessh
    local zsh_comp=$MG_SRC_DIR/completions/zsh/_fakessh letters l
    run_mg_sep 255 fakessh -Z
    # "[-46AaC...]" then "[-B bind_interface]" ...: every option letter.
    letters=$(grep -oE -- '\[-[[:alnum:]]+' <<<"$stderr" | sed 's/^\[-//' | fold -w1 | sort -u)
    assert "$(wc -l <<<"$letters")" -ge 40 "the usage names ssh's options"
    for l in $letters; do
        grep -qF -- "*-$l*" "$man" || die "-$l: not in man/fakessh.1.scd"
        grep -qE -- "(^|[ '])-$l([ ']|$)" "$bash_comp" || die "-$l: not in completions/bash/fakessh"
        grep -qF -- "-$l[" "$zsh_comp" || die "-$l: not in completions/zsh/_fakessh"
    done
}

# mitogen-connect runs from libexec as ssh's ProxyCommand: no popt, no
# completions, but a man page whose synopsis is its usage line.
@test "mitogen-connect: its usage line and mitogen-connect(8)'s synopsis agree" {
    local man=$MG_SRC_DIR/man/mitogen-connect.8.scd usage synopsis
    run_mg_sep 2 mitogen-connect
    assert "${stderr_lines[0]}" =~ "^usage: mitogen-connect " "usage on stderr"
    usage=${stderr_lines[0]#usage: }
    # The line after "# SYNOPSIS", without scdoc's * and _ markup.
    synopsis=$(awk 'f && NF {print; exit} /^# SYNOPSIS/ {f = 1}' "$man" |
        sed -E 's/[*]//g; s/(^|[^A-Za-z0-9])_/\1/g; s/_([^A-Za-z0-9]|$)/\1/g')
    assert "$synopsis" == "$usage" "man/mitogen-connect.8.scd SYNOPSIS"
    grep -q "'mitogen-connect.8'" "$MG_SRC_DIR/man/meson.build" ||
        die "man/meson.build does not build mitogen-connect.8"
}
