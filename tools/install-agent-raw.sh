#!/bin/sh
# meson install script: put the plain agents (mitogen-agent.raw and
# mitogen-agent-lite.raw, left by build-agent.sh when it packed them)
# beside the installed packed ones, so that local hops run them without
# inflating (lib/hop/boot.c). Nothing to do when they were not packed.
#
#   install-agent-raw.sh LIBEXECDIR     (absolute, as meson.build makes it)
set -eu
dir=${DESTDIR:-}$1
for name in mitogen-agent mitogen-agent-lite mitogen-agent-leaf; do
	src=$MESON_BUILD_ROOT/cmd/$name.raw
	[ -f "$src" ] || continue
	mkdir -p "$dir"
	install -m 0755 "$src" "$dir/$name.raw"
done
