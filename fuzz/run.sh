#!/bin/sh
# Runs one fuzz target with one job for SECONDS (default 660), on one core, in the background-friendly way the
# shared machines need: bash fuzz/run.sh h5ad 660. Build first: cargo +nightly fuzz build -s none (from the
# repository root). The working corpus grows in fuzz/corpus-raw/TARGET (not committed); findings go to
# fuzz/artifacts/TARGET; libFuzzer's log is fuzz/logs/TARGET/fuzz-0.log. Minimize the corpus afterwards with
# fuzz/minimize.sh TARGET into fuzz/corpus/TARGET (committed).
set -eu
target=$1
seconds=${2:-660}
here=$(cd "$(dirname "$0")" && pwd)
binary=$here/target/x86_64-unknown-linux-gnu/release/$target
mkdir -p "$here/corpus-raw/$target" "$here/artifacts/$target" "$here/logs/$target"
cp -n "$here/seeds/$target/"* "$here/corpus-raw/$target/" 2>/dev/null || true
[ -d "$here/corpus/$target" ] && cp -n "$here/corpus/$target/"* "$here/corpus-raw/$target/" 2>/dev/null || true
cd "$here/logs/$target"
exec nice "$binary" "$here/corpus-raw/$target" -jobs=1 -workers=1 -max_total_time="$seconds" -rss_limit_mb=2048 \
    -max_len=65536 -timeout=10 -artifact_prefix="$here/artifacts/$target/"
