#!/usr/bin/env bash
# hostile_header.sh AGF_SYNTH AGF_COLLECT WORKDIR: a Challenge folder of good synthetic records plus one header whose
# file name holds ESC [2J (clear the screen) and whose #Dx line holds ESC [2J, a CR and a NUL. The record is
# skipped; its name and message must reach the summary, the skipped table and (under --strict) the error line
# escaped (\x1b, \r, \x00), never as raw control characters, and whole (not cut at the NUL).
set -u
synth=$1 collect=$2 work=$3
fail() { echo "FAIL: $*"; exit 1; }
has_control() { LC_ALL=C grep -q '[[:cntrl:]]' "$1"; }  # any control character but the line ends

rm -rf "$work" && mkdir -p "$work" || fail "cannot make $work"
"$synth" challenge --out "$work/raw" --n 6 --mix NSR=1 --seed 3 --quiet >/dev/null 2>&1 || fail "agf-synth failed"
esc=$'\e'
bad="$work/raw/bad${esc}[2J"
sed -e "s/^SY000001 /bad${esc}[2J /" -e "s/^#Dx: .*/#Dx: 426783006,12${esc}[2J"$'\r'"34\\x005/" \
  "$work/raw/SY000001.hea" >"$bad.hea" || fail "cannot write the hostile header"
cp "$work/raw/SY000001.mat" "$bad.mat"

# Skipped and counted: the summary on stdout and the table.
"$collect" -o "$work/out" --challenge "$work/raw" --name hostile --min-count 0 --quiet >"$work/summary" 2>"$work/err" ||
  { cat -v "$work/err"; fail "agf-collect failed"; }
grep -qF 'bad\x1b[2J' "$work/summary" || { cat -v "$work/summary"; fail "the summary does not name it escaped"; }
has_control "$work/summary" && { cat -v "$work/summary"; fail "control characters reached the summary"; }
table="$work/out/hostile.skipped.csv"
[ -f "$table" ] || fail "no skipped table"
grep -qF 'bad\x1b[2J,bad_header,' "$table" || { cat -v "$table"; fail "the table does not name the record escaped"; }
grep -qF "'12\\x1b[2J\\r34\\x005'" "$table" || { cat -v "$table"; fail "the table does not quote the #Dx item escaped"; }
has_control "$table" && { cat -v "$table"; fail "control characters reached the skipped table"; }
[ "$(wc -l <"$table")" -eq 2 ] || { cat -v "$table"; fail "the table is not a header and one row"; }

# Fatal under --strict: the one error line.
"$collect" -o "$work/strict" --challenge "$work/raw" --name hostile --min-count 0 --quiet --strict \
  >/dev/null 2>"$work/err"
rc=$?
[ "$rc" -eq 1 ] || { cat -v "$work/err"; fail "--strict: expected exit status 1, got $rc"; }
[ "$(wc -l <"$work/err")" -eq 1 ] || { cat -v "$work/err"; fail "--strict: expected one line on stderr"; }
grep -qF "'12\\x1b[2J\\r34\\x005'" "$work/err" || { cat -v "$work/err"; fail "--strict: the line does not quote it escaped"; }
has_control "$work/err" && { cat -v "$work/err"; fail "--strict: control characters reached stderr"; }
echo "escaped as expected: $(cat "$work/err")"
