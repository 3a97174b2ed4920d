#!/bin/sh
# Minimizes the working corpus of one target into fuzz/corpus/TARGET (committed): bash fuzz/minimize.sh h5ad
# Only inputs of at most MAX_BYTES (default 8192) are kept, so that the repository stays small: most h5ad
# inputs derive from 37 KB anndata files, and the full working corpus comes back from the seeds in one run.
set -eu
target=$1
max_bytes=${MAX_BYTES:-8192}
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$here/corpus/$target.new" && mkdir -p "$here/corpus/$target.new"
nice "$here/target/x86_64-unknown-linux-gnu/release/$target" -merge=1 -rss_limit_mb=2048 -max_len=65536 -timeout=10 \
    "$here/corpus/$target.new" "$here/corpus-raw/$target"
find "$here/corpus/$target.new" -type f -size +"$max_bytes"c -delete
rm -rf "$here/corpus/$target" && mv "$here/corpus/$target.new" "$here/corpus/$target"
