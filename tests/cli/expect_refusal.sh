#!/usr/bin/env bash
# expect_refusal.sh APP [ARGS...]: passes when APP refuses its input the way every app must (apps/app_main.h): exit
# status STATUS (required: 2 for a bad command line, 1 for bad input or a failed run), exactly one line on stderr
# with no control character in it, and no output (file or run folder) named by -o/--output/--out left behind. Meson's should_fail would
# also accept a segfault; this does not. With EXPECT set, the line must contain it.
set -u
if [ -z "${STATUS:-}" ]; then echo "expect_refusal.sh: set STATUS to the exit status the refusal must have"; exit 1; fi
err=$(mktemp)
trap 'rm -f "$err"' EXIT
out=""
prev=""
for a in "$@"; do
  case "$prev" in -o|--output|--out) out="$a" ;; esac
  prev="$a"
done
existed=0
[ -n "$out" ] && [ -e "$out" ] && existed=1
"$@" >/dev/null 2>"$err"
rc=$?
lines=$(wc -l <"$err")
if [ "$rc" -ne "$STATUS" ]; then
  echo "expected exit status $STATUS, got $rc; stderr:"; cat -v "$err"; exit 1
fi
if [ "$lines" -ne 1 ]; then
  echo "expected exactly one line on stderr, got $lines:"; cat -v "$err"; exit 1
fi
if LC_ALL=C grep -q '[[:cntrl:]]' "$err"; then
  echo "the line holds a control character:"; cat -v "$err"; exit 1
fi
if [ -n "$out" ] && [ "$existed" -eq 0 ] && [ -e "$out" ]; then
  echo "the refused run left its output behind: $out"; exit 1
fi
if [ -n "${EXPECT:-}" ] && ! grep -qF -- "$EXPECT" "$err"; then
  echo "the refusal does not say '$EXPECT':"; cat -v "$err"; exit 1
fi
echo "refused as expected (status $rc): $(cat "$err")"
