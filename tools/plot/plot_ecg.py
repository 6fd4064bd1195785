#!/usr/bin/env python3
"""Draw 12-lead ECGs from Challenge 2021 records (NAME.hea + NAME.mat) as a standard printout on ECG paper:
25 mm/s, 10 mm/mV, a 3 x 4 layout of 2.5 s per lead (I II III / aVR aVL aVF / V1-V3 / V4-V6) and a 10 s rhythm
strip of lead II, on a 1 mm / 5 mm grid.

Reads the files itself (numpy only), so it also checks that what agf-synth writes is readable without the project.

  plot_ecg.py REC.hea [REC.hea ...] --out-dir docs/img          one PNG per record
  plot_ecg.py --dir DATA --pick NSR AF NSR+LBBB ... --out-dir docs/img
      the first record in DATA whose #Dx is exactly that label set, saved as synth_<labels>.png
"""
import argparse
import os
import sys

import numpy as np
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

CODES = {  # Challenge 2021 scored SNOMED CT codes of the classes agf-synth generates
    "NSR": "426783006", "SB": "426177001", "STach": "427084000", "AF": "164889003", "AFL": "164890007",
    "IAVB": "270492004", "RBBB": "59118001", "LBBB": "164909002", "LAD": "39732003", "RAD": "47665007",
    "PAC": "284470004", "PVC": "427172004", "LQRSV": "251146004", "TInv": "59931005",
}
ABBREV = {v: k for k, v in CODES.items()}
LAYOUT = [["I", "aVR", "V1", "V4"], ["II", "aVL", "V2", "V5"], ["III", "aVF", "V3", "V6"]]


def read_record(hea_path):
    """Header fields and the signal in mV, shape (n_leads, n_samples)."""
    with open(hea_path, "r", newline="") as f:
        lines = [ln.rstrip("\r\n") for ln in f]
    first = lines[0].split()
    n_leads, fs, n_samples = int(first[1]), float(first[2]), int(first[3])
    leads, gains, baselines, inits, checks = [], [], [], [], []
    for ln in lines[1:1 + n_leads]:
        parts = ln.split()
        gain_field = parts[2].split("/")[0]
        baseline = int(parts[4])
        if "(" in gain_field:
            gain_field, b = gain_field.split("(")
            baseline = int(b.rstrip(")"))
        gains.append(float(gain_field))
        baselines.append(baseline)
        inits.append(int(parts[5]))
        checks.append(int(parts[6]))
        leads.append(parts[8])
    comments = {}
    for ln in lines[1 + n_leads:]:
        if ln.startswith("#") and ":" in ln:
            k, v = ln[1:].split(":", 1)
            comments[k.strip()] = v.strip()
    mat_path = os.path.join(os.path.dirname(hea_path), lines[1].split()[0])
    raw = np.fromfile(mat_path, dtype="<u1")
    head = raw[:20].view("<i4")
    if head[0] != 30 or head[1] != n_leads or head[2] != n_samples or head[4] != 4:
        raise ValueError(f"{mat_path}: unexpected MAT v4 header {head.tolist()}")
    if raw.size != 24 + 2 * n_leads * n_samples:
        raise ValueError(f"{mat_path}: {raw.size} bytes, expected {24 + 2 * n_leads * n_samples}")
    val = raw[24:].view("<i2").reshape(n_samples, n_leads).T  # column-major 12 x n = sample-interleaved
    for i in range(n_leads):  # the header's checks, as a reader must make them
        if val[i, 0] != inits[i] or np.int16(val[i].astype(np.int64).sum() & 0xFFFF) != np.int16(checks[i]):
            raise ValueError(f"{hea_path}: init/checksum mismatch in lead {leads[i]}")
    mv = (val.astype(np.float64) - np.array(baselines)[:, None]) / np.array(gains)[:, None]
    dx = [c for c in comments.get("Dx", "").split(",") if c]
    return {"name": first[0], "fs": fs, "leads": leads, "mv": mv, "dx": dx, "age": comments.get("Age", "?"),
            "sex": comments.get("Sex", "?")}


def draw_grid(ax, width_mm, height_mm):
    minor = np.arange(0, width_mm + 0.01, 1.0)
    ax.vlines(minor, 0, height_mm, colors="#f6c6c6", linewidth=0.35, zorder=0)
    ax.hlines(np.arange(0, height_mm + 0.01, 1.0), 0, width_mm, colors="#f6c6c6", linewidth=0.35, zorder=0)
    ax.vlines(np.arange(0, width_mm + 0.01, 5.0), 0, height_mm, colors="#e58c8c", linewidth=0.7, zorder=0)
    ax.hlines(np.arange(0, height_mm + 0.01, 5.0), 0, width_mm, colors="#e58c8c", linewidth=0.7, zorder=0)


def plot_record(rec, out_path, dpi=100):
    fs, mv = rec["fs"], rec["mv"]
    index = {name.lower(): i for i, name in enumerate(rec["leads"])}
    mm_per_s, mm_per_mv = 25.0, 10.0
    seconds = mv.shape[1] / fs
    col_s = seconds / 4.0
    row_h = 35.0  # mm per row (3.5 mV)
    width, height = seconds * mm_per_s, row_h * 4
    title_mm = 7.0
    fig = plt.figure(figsize=(width / 25.4, (height + title_mm) / 25.4))  # true scale at 25.4 mm per inch
    ax = fig.add_axes([0, 0, 1, height / (height + title_mm)])
    draw_grid(ax, width, height)

    def trace(lead, t0, t1, x0_mm, y0_mm):
        i = index[lead.lower()]
        s0, s1 = int(round(t0 * fs)), int(round(t1 * fs))
        t = np.arange(s0, s1) / fs
        ax.plot(x0_mm + (t - t0) * mm_per_s, y0_mm + mv[i, s0:s1] * mm_per_mv, color="black", linewidth=0.6)
        ax.text(x0_mm + 1.0, y0_mm + 9.0, lead, fontsize=7, fontweight="bold")

    for r, row in enumerate(LAYOUT):
        y0 = height - row_h * (r + 0.5)
        for c, lead in enumerate(row):
            trace(lead, c * col_s, (c + 1) * col_s, c * col_s * mm_per_s, y0)
            if c > 0:
                ax.vlines(c * col_s * mm_per_s, y0 - 5, y0 + 5, colors="black", linewidth=0.8)
    trace("II", 0.0, seconds, 0.0, row_h * 0.5)
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    labels = "+".join(ABBREV.get(c, c) for c in rec["dx"])
    fig.text(0.005, 0.995, f"{rec['name']}   Dx: {labels} ({','.join(rec['dx'])})   {rec['sex']}, {rec['age']} y   "
             f"{fs:g} Hz   25 mm/s, 10 mm/mV", va="top", fontsize=8)
    fig.savefig(out_path, dpi=dpi)
    plt.close(fig)


def pick(directory, wanted):
    """First record (by name) whose #Dx is exactly the label set `wanted` ("NSR+RBBB")."""
    codes = {CODES[a] for a in wanted.split("+")}
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".hea"):
            continue
        path = os.path.join(directory, name)
        with open(path) as f:
            dx = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("#Dx")), "")
        if set(c for c in dx.split(",") if c) == codes:
            return path
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("headers", nargs="*")
    p.add_argument("--dir")
    p.add_argument("--pick", nargs="*", default=[])
    p.add_argument("--out-dir", default=".")
    p.add_argument("--dpi", type=int, default=100)
    a = p.parse_args()
    jobs = [(h, os.path.splitext(os.path.basename(h))[0]) for h in a.headers]
    for want in a.pick:
        h = pick(a.dir, want)
        if h is None:
            sys.exit(f"no record in {a.dir} has exactly the labels {want}")
        jobs.append((h, "synth_" + want.replace("+", "_")))
    os.makedirs(a.out_dir, exist_ok=True)
    for h, stem in jobs:
        out = os.path.join(a.out_dir, stem + ".png")
        plot_record(read_record(h), out, a.dpi)
        print(f"{h} -> {out} ({os.path.getsize(out) // 1024} KB)")


if __name__ == "__main__":
    main()
