#!/usr/bin/env bash
# Builds every Sluice plugin (examples and hostile test plugins) as a WebAssembly component,
# in release, for wasm32-wasip2, and prints the path and size of each `.wasm`.
#
#   plugins/build.sh            # all of them
#   plugins/build.sh -p enrich  # extra arguments go to `cargo build`
#
# The components land in plugins/target/wasm32-wasip2/release/<crate_name>.wasm (crate names
# with `-` become `_`, e.g. redact_json.wasm). Unit tests are separate: `cargo test` here.
set -euo pipefail
cd "$(dirname "$0")"

target=wasm32-wasip2
if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
    echo "installing the $target target with rustup" >&2
    rustup target add "$target"
fi

cargo build --release --target "$target" --workspace --exclude sluice-plugin-sdk "$@"

out="$PWD/target/$target/release"
status=0
# Every workspace member but the SDK is a plugin; its .wasm is named after its directory.
for crate in $(sed -n 's/^ *"\([^"]*\)",.*$/\1/p' Cargo.toml | grep -vx sdk | sed 's|.*/||; s/-/_/g'); do
    wasm="$out/$crate.wasm"
    [ -f "$wasm" ] || continue
    if [ "$(head -c 8 "$wasm" | od -An -tx1 | tr -d ' \n')" != "0061736d0d000100" ]; then
        echo "error: $wasm is not a component" >&2
        status=1
    fi
    printf '%8d  %s\n' "$(stat -c %s "$wasm")" "$wasm"
done
exit "$status"
