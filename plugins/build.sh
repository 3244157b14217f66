#!/usr/bin/env bash
# Builds the example plugins, and optionally the test modules, from source:
# Go ones with the standard Go toolchain (Go >= 1.24 for go:wasmexport), C
# ones with clang for wasm32-wasi and Debian's wasi-libc (plugins/toolchain.sh
# installs them when missing).
#
#   plugins/build.sh OUTDIR [TESTDIR]
#
# OUTDIR/<name>/<name>.wasm for every plugins/examples/<name>, with its
# manifest copied from plugins.d/<name>/plugin.json when OUTDIR is not
# plugins.d itself. TESTDIR/<name>.wasm for every plugins/testdata/<name>.
# A folder with .c files is C, any other Go.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
	echo "usage: $0 OUTDIR [TESTDIR]" >&2
	exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd)
cd "$root"
plugins/toolchain.sh

reactor() { GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o "$2" "$1"; }
command() { GOOS=wasip1 GOARCH=wasm go build -trimpath -o "$2" "$1"; }

# C modules: the kit is plugins/pdk/orbit.h; names and debug sections are
# stripped, as a plugin ships.
cflags=(--target=wasm32-wasi -O2 -Wall -Wextra -Werror -Iplugins/pdk -Wl,--strip-all)
if [[ -n "${WASI_SYSROOT:-}" ]]; then
	cflags+=(--sysroot="$WASI_SYSROOT")
fi
is_c() { compgen -G "$1*.c" >/dev/null; }
creactor() { "${WASM_CC:-clang}" "${cflags[@]}" -mexec-model=reactor -o "$2" "$1"*.c; }
ccommand() { "${WASM_CC:-clang}" "${cflags[@]}" -DORBIT_COMMAND -o "$2" "$1"*.c; }

for dir in plugins/examples/*/; do
	name=$(basename "$dir")
	mkdir -p "$out/$name"
	if is_c "$dir"; then
		creactor "$dir" "$out/$name/$name.wasm"
	else
		reactor "./$dir" "$out/$name/$name.wasm"
	fi
	if [[ "$out" != "$root/plugins.d" ]]; then
		cp "plugins.d/$name/plugin.json" "$out/$name/plugin.json"
	fi
done

if [[ $# -eq 2 ]]; then
	tests=$(mkdir -p "$2" && cd "$2" && pwd)
	for dir in plugins/testdata/*/; do
		name=$(basename "$dir")
		# testdata/fuzz holds the fuzzers' seed corpora, not a module.
		[[ "$name" == fuzz ]] && continue
		if is_c "$dir"; then
			# A C test module is built twice from the same source: a
			# reactor, and a command (-DORBIT_COMMAND gives it a main).
			creactor "$dir" "$tests/$name.wasm"
			ccommand "$dir" "$tests/$name-command.wasm"
		elif [[ "$name" == command* ]]; then
			# A Go test module that defines main() runs as a command; the
			# others are reactors. The command test module says so in its name.
			command "./$dir" "$tests/$name.wasm"
		else
			reactor "./$dir" "$tests/$name.wasm"
		fi
	done
fi
