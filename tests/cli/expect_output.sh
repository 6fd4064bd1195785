#!/usr/bin/env bash
# expect_output.sh APP [ARGS...]: passes when APP succeeds (exit status 0) and its standard output contains EXPECT
# (e.g. a default value in a --help page).
set -u
if [ -z "${EXPECT:-}" ]; then echo "expect_output.sh: set EXPECT to the text the output must contain"; exit 1; fi
out=$("$@" 2>&1)
rc=$?
if [ "$rc" -ne 0 ]; then echo "expected exit status 0, got $rc:"; echo "$out"; exit 1; fi
if ! grep -qF -- "$EXPECT" <<<"$out"; then echo "the output does not contain '$EXPECT':"; echo "$out"; exit 1; fi
echo "found '$EXPECT'"
