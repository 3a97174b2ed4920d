#!/bin/sh
# Minimizes the working corpus of one target into fuzz/corpus/TARGET (committed): bash fuzz/minimize.sh h5ad
set -eu
target=$1
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$here/corpus/$target.new" && mkdir -p "$here/corpus/$target.new"
nice "$here/target/x86_64-unknown-linux-gnu/release/$target" -merge=1 -rss_limit_mb=2048 -max_len=65536 -timeout=10 \
    "$here/corpus/$target.new" "$here/corpus-raw/$target"
rm -rf "$here/corpus/$target" && mv "$here/corpus/$target.new" "$here/corpus/$target"
