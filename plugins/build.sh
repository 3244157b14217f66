#!/usr/bin/env bash
# Builds the example plugins, and optionally the test modules, from source
# with the standard Go toolchain (Go >= 1.24 for go:wasmexport).
#
#   plugins/build.sh OUTDIR [TESTDIR]
#
# OUTDIR/<name>/<name>.wasm for every plugins/examples/<name>, with its
# manifest copied from plugins.d/<name>/plugin.json when OUTDIR is not
# plugins.d itself. TESTDIR/<name>.wasm for every plugins/testdata/<name>.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
	echo "usage: $0 OUTDIR [TESTDIR]" >&2
	exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd)
cd "$root"

reactor() { GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o "$2" "$1"; }
command() { GOOS=wasip1 GOARCH=wasm go build -trimpath -o "$2" "$1"; }

for dir in plugins/examples/*/; do
	name=$(basename "$dir")
	mkdir -p "$out/$name"
	reactor "./$dir" "$out/$name/$name.wasm"
	if [[ "$out" != "$root/plugins.d" ]]; then
		cp "plugins.d/$name/plugin.json" "$out/$name/plugin.json"
	fi
done

if [[ $# -eq 2 ]]; then
	tests=$(mkdir -p "$2" && cd "$2" && pwd)
	for dir in plugins/testdata/*/; do
		name=$(basename "$dir")
		# A test module that defines main() runs as a command; the others
		# are reactors. The command test module says so in its name.
		if [[ "$name" == command* ]]; then
			command "./$dir" "$tests/$name.wasm"
		else
			reactor "./$dir" "$tests/$name.wasm"
		fi
	done
fi
