#!/usr/bin/env bats
# -*- bats -*-
#
# The library's manual agrees with its installed headers: every public
# function has its prototype, as the header spells it, in the SYNOPSIS of
# a section-3 page, and every typedef, MG_ constant, struct and enum shown
# there is the header's; every function a page names exists; every page is
# built, and every page referred to exists; mitogen(3) lists every error
# code.

load helpers

# The installed headers (lib/meson.build installs the whole directory).
function api_headers() {
    printf '%s\n' "$MG_SRC_DIR"/lib/include/mitogen/*.h
}

function man3_pages() {
    printf '%s\n' "$MG_SRC_DIR"/man/*.3.scd
}

# C text without its /* */ comments.
function strip_comments() {
    awk '{
        line = $0; out = ""
        while (line != "") {
            if (in_comment) {
                i = index(line, "*/")
                if (i == 0) { line = ""; break }
                line = substr(line, i + 2); in_comment = 0
            } else {
                i = index(line, "/*")
                if (i == 0) { out = out line; line = "" }
                else { out = out substr(line, 1, i - 1); line = substr(line, i + 2); in_comment = 1 }
            }
        }
        print out
    }' "$@"
}

# The code blocks of the SYNOPSIS section of scdoc pages.
function synopsis_code() {
    awk '/^# / { syn = ($0 == "# SYNOPSIS") } syn && /^```/ { code = !code; next } syn && code' "$@"
}

# One normalized declaration per line, "NAME<TAB>DECLARATION", for every
# function prototype in C text on stdin: preprocessor lines (with their
# continuations) dropped, whitespace collapsed, none around punctuation,
# attributes removed.
function prototypes() {
    sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta' | grep -v '^[[:space:]]*#' | tr '\n' ' ' | tr ';' '\n' | awk '{
        d = $0
        sub(/[ \t]*__attribute__.*$/, "", d)
        sub(/^.*[{}][ \t]*/, "", d)
        gsub(/[ \t]+/, " ", d)
        gsub(/ ?\( ?/, "(", d); gsub(/ ?\) ?/, ")", d); gsub(/ ?, ?/, ",", d)
        gsub(/ ?\* ?/, "*", d)
        sub(/^ /, "", d); sub(/ $/, "", d)
        if (d ~ /^typedef/ || !match(d, /mg_[a-z0-9][a-z0-9_]*\(/)) next
        print substr(d, RSTART, RLENGTH - 1) "\t" d
    }' | sort -u
}

# One normalized line per typedef (as prototypes() normalizes) and per
# object-like #define of an MG_ constant ("#define NAME VALUE", spaces
# collapsed), in C text on stdin.
function typedefs_and_constants() {
    local text
    text=$(cat)
    grep -E '^[[:space:]]*#define MG_[A-Z0-9_]+[[:space:]]+[^[:space:]]' <<<"$text" |
        sed -E 's/[[:space:]]+/ /g; s/ $//'
    sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta' <<<"$text" | grep -v '^[[:space:]]*#' |
        tr '\n' ' ' | tr ';' '\n' | awk '{
        d = $0
        sub(/^.*[{}][ \t]*/, "", d)
        gsub(/[ \t]+/, " ", d)
        gsub(/ ?\( ?/, "(", d); gsub(/ ?\) ?/, ")", d); gsub(/ ?, ?/, ",", d)
        gsub(/ ?\* ?/, "*", d)
        sub(/^ /, "", d); sub(/ $/, "", d)
        if (d ~ /^typedef /) print d
    }'
}

# One normalized line per struct or enum definition in C text on stdin.
function struct_definitions() {
    grep -v '^[[:space:]]*#' | tr '\n\t' '  ' | sed -E 's/ +/ /g' |
        grep -oE '(struct|enum) mg_[a-z0-9_]+ \{[^}]*\}' |
        sed -E 's/ ?([(){},;*]) ?/\1/g'
}

# Names of functions and function-like macros declared in the headers.
function header_functions() {
    {
        strip_comments $(api_headers) | prototypes | cut -f1
        grep -ohE '^#define mg_[a-z0-9][a-z0-9_]*\(' $(api_headers) |
            sed -E 's/^#define //; s/\($//'
    } | sort -u
}

# Functions a page names in its text, "NAME()" or "*NAME*()", but not
# page references such as "*mg_router*(3)".
function page_functions() {
    sed -E 's/\\(.)/\1/g; s/mg_[a-z0-9_]+\*?\([0-9]\)//g' "$@" |
        grep -oE 'mg_[a-z0-9][a-z0-9_]*\*?\(' | sed -E 's/\*?\($//' | sort -u
}

# "a b c" (newline-separated) minus "b": what is in $1 but not in $2.
function missing_from() {
    comm -23 <(printf '%s\n' "$1" | sort -u) <(printf '%s\n' "$2" | sort -u) | grep -v '^$' || true
}

@test "api-docs: the helpers see the headers and the pages" {
    local funcs
    funcs=$(header_functions)
    assert "$funcs" =~ "mg_receiver_get" "header_functions finds mg_receiver_get"
    assert "$funcs" =~ "mg_error" "header_functions finds the mg_error macro"
    assert "$(printf '%s\n' "$funcs" | grep -c .)" -gt 50 "more than 50 public functions"
    run page_functions "$MG_SRC_DIR/man/mitogen.3.scd"
    assert "$output" =~ "mg_strerror" "page_functions finds mg_strerror in mitogen(3)"
    assert "$output" !~ "mg_broker$" "a page reference is not a function"
}

@test "api-docs: every public function is in the SYNOPSIS of a section-3 page" {
    local in_headers in_synopsis miss
    in_headers=$(header_functions)
    in_synopsis=$(synopsis_code $(man3_pages) | grep -oE 'mg_[a-z0-9][a-z0-9_]*\(' | sed 's/($//' | sort -u)
    miss=$(missing_from "$in_headers" "$in_synopsis")
    assert "$miss" == "" "functions of lib/include/mitogen/*.h in no SYNOPSIS of man/*.3.scd"
}

@test "api-docs: every prototype in a SYNOPSIS is the header's" {
    local headers pages miss
    headers=$(strip_comments $(api_headers) | prototypes)
    pages=$(synopsis_code $(man3_pages) | strip_comments | prototypes)
    miss=$(missing_from "$pages" "$headers")
    assert "$miss" == "" "prototypes in man/*.3.scd SYNOPSIS that differ from the headers"
}

@test "api-docs: every typedef and MG_ constant in a SYNOPSIS is the header's" {
    local headers pages miss
    headers=$(strip_comments $(api_headers) | typedefs_and_constants | sort -u)
    grep -qxF 'typedef void(*mg_defer_cb)(void*data)' <<<"$headers" || die "no typedef found"
    grep -qxF '#define MG_RECV_ONESHOT 0x1u' <<<"$headers" || die "no constant found"
    pages=$(synopsis_code $(man3_pages) | strip_comments | typedefs_and_constants | sort -u)
    miss=$(missing_from "$pages" "$headers")
    assert "$miss" == "" "typedefs or constants in man/*.3.scd SYNOPSIS that differ from the headers"
}

@test "api-docs: every struct and enum in a SYNOPSIS is the header's" {
    local headers pages miss
    headers=$(strip_comments $(api_headers) | struct_definitions | sort -u)
    grep -qxF 'struct mg_connect_opts{unsigned timeout_ms;mg_connect_cb on_start;bool exec_only;bool leaf;}' <<<"$headers" || die "no struct found"
    pages=$(synopsis_code $(man3_pages) | strip_comments | struct_definitions | sort -u)
    miss=$(missing_from "$pages" "$headers")
    assert "$miss" == "" "structs or enums in man/*.3.scd SYNOPSIS that differ from the headers"
}

@test "api-docs: every function a section-3 page names exists" {
    local in_headers named miss
    in_headers=$(header_functions)
    named=$(page_functions $(man3_pages))
    miss=$(missing_from "$named" "$in_headers")
    assert "$miss" == "" "mg_ functions named in man/*.3.scd but declared in no header"
}

@test "api-docs: every section-3 page is built, and every one referred to exists" {
    local page name refs built miss
    built=$(grep -oE "'[a-z_]+\.3'" "$MG_SRC_DIR/man/meson.build" | tr -d "'" | sort -u)
    for page in $(man3_pages); do
        name=$(basename "$page" .scd)
        grep -qxF "$name" <<<"$built" || die "man/meson.build does not build $name"
        assert "$(head -n1 "$page")" == "${name%.3}(3)" "$name.scd starts with its title"
    done
    refs=$(sed -E 's/\\(.)/\1/g' $(man3_pages) | grep -oE '(mg_[a-z0-9_]+|mitogen)\*?\(3\)' |
        sed -E 's/\*?\(3\)$/.3/' | sort -u)
    miss=$(missing_from "$refs" "$(for page in $(man3_pages); do basename "$page" .scd; done)")
    assert "$miss" == "" "pages referred to as NAME(3) with no man/NAME.3.scd"
}

@test "api-docs: mitogen(3) lists every error code" {
    local codes listed miss
    codes=$(strip_comments "$MG_SRC_DIR/lib/include/mitogen/error.h" |
        grep -oE 'MG_ERR_[A-Z_]+ *=' | sed -E 's/ *=$//' | sort -u)
    assert "$codes" =~ "MG_ERR_CALL" "error.h's codes are found"
    listed=$(awk '/^# / { on = ($0 == "# ERRORS") } on' "$MG_SRC_DIR/man/mitogen.3.scd" |
        sed -E 's/\\(.)/\1/g' | grep -oE 'MG_ERR_[A-Z_]+' | sort -u)
    miss=$(missing_from "$codes" "$listed")
    assert "$miss" == "" "MG_ERR_* codes missing from the ERRORS section of mitogen(3)"
}
