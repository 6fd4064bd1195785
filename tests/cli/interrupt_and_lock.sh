#!/usr/bin/env bash
# interrupt_and_lock.sh AGF_SYNTH AGF_COLLECT WORKDIR: what a Ctrl-C, a SIGTERM and a second concurrent run do.
#   1. SIGINT while agf-collect writes its dataset: exit status 130, one line on stderr, nothing left in the output
#      folder (no dataset, no table, no temporary, no lock).
#   2. SIGINT twice (the user insisting): the process ends by SIGINT at once, still leaving no temporary.
#   3. A second agf-collect on the output a first one is writing: refused at once (status 1, one line naming the
#      output); the first is then let go on and finishes with an intact dataset.
#   4. SIGTERM while agf-synth writes records: status 143, the records on disk are whole (.hea beside its .mat), no
#      temporary.
# Robust on a loaded machine: every step waits for a file to appear (never a fixed sleep), and step 3 holds the first
# run with SIGSTOP while the second one tries, so no timing decides the outcome.
set -u
synth=$1 collect=$2 work=$3
fail() { echo "FAIL: $*"; exit 1; }
temporaries() { find "$1" -name '*.tmp' 2>/dev/null; }
# wait_for PID GLOB: until a file matching GLOB exists (the process must still be running), at most 10 minutes.
wait_for() {
  local pid=$1 pattern=$2 i
  for ((i = 0; i < 12000; i++)); do
    compgen -G "$pattern" >/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || fail "the process ended before $pattern appeared"
    sleep 0.05
  done
  fail "$pattern did not appear"
}
expect_one_line() {  # FILE TEXT
  [ "$(wc -l <"$1")" -eq 1 ] || { cat -v "$1"; fail "expected one line on stderr"; }
  grep -qF -- "$2" "$1" || { cat -v "$1"; fail "the line does not say '$2'"; }
}

rm -rf "$work" && mkdir -p "$work" || fail "cannot make $work"
# Records of 60 s: 240 of them keep agf-collect busy for seconds (4 s of CPU), long after its temporary appears.
"$synth" challenge --out "$work/raw" --n 240 --seconds 60 --mix NSR=1 --quiet >/dev/null 2>&1 || fail "agf-synth failed"
collect_args=(--challenge "$work/raw" --name set --min-count 0 --length 30000 --threads 1 --quiet)

# 1. Ctrl-C during the write.
"$collect" -o "$work/int" "${collect_args[@]}" >/dev/null 2>"$work/err1" &
pid=$!
wait_for "$pid" "$work/int/.set.h5.*.tmp"
kill -INT "$pid"
wait "$pid"
rc=$?
[ "$rc" -eq 130 ] || { cat -v "$work/err1"; fail "SIGINT: expected status 130, got $rc"; }
expect_one_line "$work/err1" "agf-collect: interrupted by SIGINT: $work/int/set.h5 not written (partial files removed)"
left=$(ls -A "$work/int")
[ -z "$left" ] || fail "SIGINT left files behind: $left"
echo "1. $(cat "$work/err1")"

# 2. Ctrl-C twice.
"$collect" -o "$work/int2" "${collect_args[@]}" >/dev/null 2>"$work/err2" &
pid=$!
wait_for "$pid" "$work/int2/.set.h5.*.tmp"
kill -INT "$pid"
kill -INT "$pid"
wait "$pid"
rc=$?
[ "$rc" -eq 130 ] || { cat -v "$work/err2"; fail "SIGINT twice: expected status 130, got $rc"; }
[ -z "$(temporaries "$work/int2")" ] || fail "SIGINT twice left a temporary: $(temporaries "$work/int2")"
[ -e "$work/int2/set.h5" ] && fail "SIGINT twice left a dataset"
echo "2. status $rc, no temporary"

# 3. Two runs on one output.
"$collect" -o "$work/two" "${collect_args[@]}" >"$work/out3a" 2>"$work/err3a" &
pid=$!
wait_for "$pid" "$work/two/.set.h5.lock"
kill -STOP "$pid"
"$collect" -o "$work/two" "${collect_args[@]}" >/dev/null 2>"$work/err3b"
rc=$?
kill -CONT "$pid"
[ "$rc" -eq 1 ] || { cat -v "$work/err3b"; fail "second run: expected status 1, got $rc"; }
expect_one_line "$work/err3b" "$work/two/set.h5 is being written by another run (pid $pid"
wait "$pid"
rc=$?
[ "$rc" -eq 0 ] || { cat -v "$work/err3a"; fail "first run: expected status 0, got $rc"; }
grep -qF "240 records found, 240 written to $work/two/set.h5" "$work/out3a" || { cat "$work/out3a"; fail "first run"; }
[ "$(head -c 8 "$work/two/set.h5" | od -An -tx1 | tr -d ' \n')" = 894844460d0a1a0a ] ||
  fail "$work/two/set.h5 is not an HDF5 file"
[ -f "$work/two/set.classes.csv" ] || fail "no class table"
left=$(ls -A "$work/two" | grep -v -x -e set.h5 -e set.classes.csv)
[ -z "$left" ] || fail "the runs left files behind: $left"
echo "3. $(cat "$work/err3b")"

# 4. SIGTERM during agf-synth.
"$synth" challenge --out "$work/synth" --n 1000000 --seconds 60 --threads 2 --quiet >/dev/null 2>"$work/err4" &
pid=$!
wait_for "$pid" "$work/synth/SY*.hea"
kill -TERM "$pid"
wait "$pid"
rc=$?
[ "$rc" -eq 143 ] || { cat -v "$work/err4"; fail "SIGTERM: expected status 143, got $rc"; }
tail -n 1 "$work/err4" | grep -qF "agf-synth: interrupted by SIGTERM: " || { cat -v "$work/err4"; fail "SIGTERM line"; }
grep -qF "records written to $work/synth (each one complete), the rest not" "$work/err4" || fail "SIGTERM line"
[ -z "$(temporaries "$work/synth")" ] || fail "SIGTERM left a temporary: $(temporaries "$work/synth")"
[ -e "$work/synth/.agf-synth.lock" ] && fail "SIGTERM left the lock"
for h in "$work"/synth/*.hea; do [ -f "${h%.hea}.mat" ] || fail "$h has no .mat beside it"; done
echo "4. $(tail -n 1 "$work/err4")"
rm -rf "$work"
