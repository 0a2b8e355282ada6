#!/bin/sh
# Memory and descriptors of tracer over a long task storm with rotation every few seconds:
# prints tracer's RSS and open descriptors every 10 s, then the rotated files' totals.
# Run as root after `cargo xtask build`, under the shared lock of the root tests:
#   flock /tmp/tracer-root-tests.lock packaging/rotation-soak.sh [SECONDS]
# The storm runs under its own name (soak-storm), so it neither sees nor disturbs the tests.
set -eu
seconds=${1:-600}
bin=$(cd "$(dirname "$0")/.." && pwd)/target/release
dir=$(mktemp -d /tmp/tracer-soak.XXXXXX)
cp "$bin/tracer-workload" "$dir/soak-storm"
"$bin/tracer" -q -c soak-storm -e fork,exit --buffer-size 64 \
    -o "$dir/soak.rec" --json-output "$dir/soak.json" \
    --rotate-size 8M --rotate-age 5s --rotate-keep 3 2>"$dir/tracer.err" &
tracer=$!
sleep 2
(
    end=$(($(date +%s) + seconds))
    while [ "$(date +%s)" -lt "$end" ]; do
        "$dir/soak-storm" storm --shape fork --tasks 20000 --cores one >/dev/null
    done
) &
storm=$!
start=$(date +%s)
echo "seconds rss_kib fds json_files recordings"
while kill -0 "$storm" 2>/dev/null; do
    rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$tracer/status")
    fds=$(ls "/proc/$tracer/fd" | wc -l)
    json=$(ls "$dir" | grep -c '^soak\.json')
    rec=$(ls "$dir" | grep -c '^soak\.rec')
    echo "$(($(date +%s) - start)) $rss $fds $json $rec"
    sleep 10
done
kill -INT "$tracer"
wait "$tracer" || echo "tracer exited $?"
cat "$dir/tracer.err"
ls -l "$dir"
rm -rf "$dir"
