"""Summarises bench/reference/side_by_side.sh's results.jsonl as a Markdown table: per configuration the median over
rounds of each side's median step time, samples/s, peak RSS, and their ratios (ours / PyTorch for speed as samples/s,
for memory as RSS: above 1 means faster, below 1 means leaner); and our ledger's peak beside our RSS, with the RSS
minus the runtime baseline (the resident set with libraries loaded and OpenBLAS's buffers touched by a first large
GEMM, no tensor held) and minus the ledger's peak, as a fraction of that peak (the target: at most 10%)."""
import json
import platform
import statistics
import sys
from collections import defaultdict

MIB = 1048576.0


def main(path):
    runs = defaultdict(lambda: {"ours": [], "pytorch": []})
    for line in open(path):
        line = line.strip()
        if not line:
            continue
        r = json.loads(line)
        key = (r["preset"], r["mode"], r["batch"], r["bp_batch"], r["rank"])
        runs[key][r["side"]].append(r)
    kernels = torch_version = threads = None
    print("| preset | mode | B | b | r | ours s/step | PyTorch s/step | speed ratio | ours RSS MiB | PyTorch RSS MiB "
          "| RSS ratio | ours ledger peak MiB | RSS - baseline - ledger |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key, sides in runs.items():
        ours, theirs = sides["ours"], sides["pytorch"]
        if not ours or not theirs:
            continue
        kernels = ours[0].get("kernels", kernels)
        torch_version = theirs[0].get("torch", torch_version)
        threads = ours[0].get("threads", threads)
        t_ours = statistics.median(r["median_s"] for r in ours)
        t_theirs = statistics.median(r["median_s"] for r in theirs)
        rss_ours = statistics.median(r["rss_peak_process_bytes"] for r in ours)
        rss_theirs = statistics.median(r["rss_peak_bytes"] for r in theirs)
        ledger = statistics.median(r["ledger_peak_bytes"] for r in ours)
        base = statistics.median(r.get("runtime_baseline_rss_bytes", r["rss_before_bytes"]) for r in ours)
        excess = (rss_ours - base - ledger) / ledger
        print(f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | {key[4]} | {t_ours:.3f} | {t_theirs:.3f} "
              f"| {t_theirs / t_ours:.2f}x | {rss_ours / MIB:.0f} | {rss_theirs / MIB:.0f} | {rss_ours / rss_theirs:.2f} "
              f"| {ledger / MIB:.0f} | {excess * 100:+.0f}% of ledger (baseline {base / MIB:.0f} MiB) |")
    print()
    print(f"Machine: {platform.processor() or platform.machine()}, {threads} threads; ours: {kernels}; "
          f"PyTorch {torch_version} eager. Speed ratio = our samples/s / PyTorch's; RSS ratio = our peak RSS / "
          f"PyTorch's (whole process, set-up included, each run a fresh process).")


if __name__ == "__main__":
    main(sys.argv[1])
