#!/usr/bin/env bash
# The corpus of broken configuration files (tests/fixtures/config-broken):
# `hub360 check` must reject each one (exit 1, nothing on stdout) with
# exactly the message its second line gives after "# expect: ", as
# FILE:LINE: key.path: reason. The files name mappings and variables
# relative to the corpus, so the check runs there, with the variables
# they read unset.
# Usage: broken.sh HUB360_BINARY SOURCE_DIR
set -uo pipefail
hub360=$1
cd "$2/tests/fixtures/config-broken" || exit 1
errfile=$(mktemp)
trap 'rm -f "$errfile"' EXIT
failed=0 n=0
for f in *.yaml; do
  n=$((n + 1))
  expect=$(sed -n '2s/^# expect: //p' "$f")
  if [ -z "$expect" ]; then
    echo "FAIL: $f: no '# expect: LINE: message' on its second line" >&2
    failed=$((failed + 1))
    continue
  fi
  out=$(env -u HUB360_CORPUS_UNSET_BROKERS -u HUB360_CORPUS_UNSET_TOKEN \
            -u HUB360_CORPUS_UNSET_URL -u HUB360_CORPUS_UNSET_SECRET "$hub360" check "$f" 2>"$errfile")
  rc=$?
  err=$(cat "$errfile")
  if [ "$rc" -ne 1 ] || [ -n "$out" ] || [ "$err" != "$f:$expect" ]; then
    printf 'FAIL: %s (exit %d)\n  expected: %s\n  got:      %s%s\n' "$f" "$rc" \
      "$f:$expect" "$err" "${out:+ (stdout: $out)}" >&2
    failed=$((failed + 1))
  fi
done
[ "$n" -ge 60 ] || { echo "FAIL: only $n files in the corpus" >&2; failed=$((failed + 1)); }
echo "$((n - failed)) of $n broken configurations rejected with the expected FILE:LINE: message"
[ "$failed" -eq 0 ]
