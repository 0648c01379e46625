#!/bin/sh
# meson install script: put the plain agent (mitogen-agent.raw, left by
# build-agent.sh when it packed the agent) beside the installed packed one,
# so that local hops run it without inflating (lib/hop/boot.c). Nothing to
# do when the agent was not packed.
#
#   install-agent-raw.sh LIBEXECDIR     (absolute, as meson.build makes it)
set -eu
src=$MESON_BUILD_ROOT/cmd/mitogen-agent.raw
[ -f "$src" ] || exit 0
dir=${DESTDIR:-}$1
mkdir -p "$dir"
install -m 0755 "$src" "$dir/mitogen-agent.raw"
