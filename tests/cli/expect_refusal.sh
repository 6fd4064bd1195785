#!/usr/bin/env bash
# expect_refusal.sh APP [ARGS...]: passes when APP refuses its input the way every app must: exit status 1 or 2
# (not 0, not a crash or a signal), exactly one line on stderr, and no output file named by -o/--output left behind.
# Meson's should_fail would also accept a segfault; this does not. With EXPECT set, the line must contain it.
set -u
err=$(mktemp)
trap 'rm -f "$err"' EXIT
"$@" >/dev/null 2>"$err"
rc=$?
out=""
prev=""
for a in "$@"; do
  case "$prev" in -o|--output|--out) out="$a" ;; esac
  prev="$a"
done
lines=$(wc -l <"$err")
if [ "$rc" -ne 1 ] && [ "$rc" -ne 2 ]; then
  echo "expected exit status 1 or 2, got $rc; stderr:"; cat "$err"; exit 1
fi
if [ "$lines" -ne 1 ]; then
  echo "expected exactly one line on stderr, got $lines:"; cat "$err"; exit 1
fi
if [ -n "$out" ] && [ -e "$out" ] && [ -f "$out" ]; then
  echo "the refused run left its output behind: $out"; exit 1
fi
if [ -n "${EXPECT:-}" ] && ! grep -qF -- "$EXPECT" "$err"; then
  echo "the refusal does not say '$EXPECT':"; cat "$err"; exit 1
fi
echo "refused as expected: $(cat "$err")"
