#!/usr/bin/env python3
"""Writes the seed corpora of fuzz_wfdb_header and fuzz_record (tests/fuzz/corpus/{wfdb_header,record}/).

Headers in the layout of the PhysioNet/CinC Challenge 2021 sets, with the quirks of each (spec/data.md): Georgia's
".mat" in the record name and no #Sx, PTB-XL's unit "mv", Ningbo's empty #Dx item, CRLF line ends, gains in
exponent notation, a baseline in parentheses, plain WFDB format-16 .dat files. The samples are short sums of sines
(a quarter to half a second), so that a whole record fits in a few kB: valid MAT v4 files (int16 "val", 12 x n,
column-major) and headers whose init values and checksums match them. A record seed is the header, then per data
file "\\n--agf-data-file--\\n" and the file's bytes (the layout fuzz_record.cpp reads). Deterministic: re-running
rewrites the same files. Run from anywhere: python3 tests/fuzz/make_record_seeds.py
"""
import math
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
HEADER_DIR = os.path.join(HERE, "corpus", "wfdb_header")
RECORD_DIR = os.path.join(HERE, "corpus", "record")
SEPARATOR = b"\n--agf-data-file--\n"
TWELVE = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def leads(n_leads, n_samples, fs, seed):
    """int16 samples per lead: a 1.2 Hz 'beat' and a slower wave, different per lead, in uV at gain 1000."""
    out = []
    for l in range(n_leads):
        row = []
        for s in range(n_samples):
            t = s / fs
            v = 800 * math.sin(2 * math.pi * 1.2 * t + 0.4 * l + seed) + 150 * math.sin(2 * math.pi * 0.3 * t + l)
            row.append(int(round(v)) - 40 * l)
        out.append(row)
    return out


def checksum(row):
    s = sum(row) & 0xFFFF
    return s - 0x10000 if s >= 0x8000 else s


def mat_v4(rows):
    n_rows, n_cols = len(rows), len(rows[0])
    head = struct.pack("<5i", 30, n_rows, n_cols, 0, 4) + b"val\0"
    data = struct.pack("<%dh" % (n_rows * n_cols), *[rows[r][c] for c in range(n_cols) for r in range(n_rows)])
    return head + data


def format16(rows):
    n_cols = len(rows[0])
    return struct.pack("<%dh" % (len(rows) * n_cols), *[rows[r][c] for c in range(n_cols) for r in range(len(rows))])


def header(line1, files, gains, rows, names, comments, offset=24, newline="\n"):
    lines = [line1]
    for f, g, row, name in zip(files, gains, rows, names):
        fmt = "16+%d" % offset if f.endswith(".mat") else "16"
        lines.append("%s %s %s 16 0 %d %d 0 %s" % (f, fmt, g, row[0], checksum(row), name))
    lines += comments
    return (newline.join(lines) + newline).encode()


def write(folder, name, data):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def record_seed(name, hea, data_files):
    write(RECORD_DIR, name, hea + b"".join(SEPARATOR + d for d in data_files))


def main():
    ningbo_comments = ["#Age: 61", "#Sex: Female", "#Dx: 426783006,,164865005", "#Rx: Unknown", "#Hx: Unknown",
                       "#Sx: Unknown"]

    # Georgia: ".mat" in the record name, no #Sx, 500 Hz.
    rows = leads(12, 150, 500.0, 1)
    hea = header("E09999.mat 12 500 150 05-May-2020 09:49:17", ["E09999.mat"] * 12, ["1000/mV"] * 12, rows, TWELVE,
                 ["#Age: 78", "#Sex: Male", "#Dx: 67741000119109,426177001", "#Rx: Unknown", "#Hx: Unknown"])
    write(HEADER_DIR, "georgia.hea", hea)
    record_seed("georgia", hea, [mat_v4(rows)])

    # PTB-XL: unit "mv", all six comments.
    rows = leads(12, 120, 500.0, 2)
    hea = header("HR09999 12 500 120 04-Jun-2020 15:11:55", ["HR09999.mat"] * 12, ["1000/mv"] * 12, rows, TWELVE,
                 ["#Age: 29", "#Sex: Male", "#Dx: 426177001,426783006", "#Rx: Unknown", "#Hx: Unknown",
                  "#Sx: Unknown"])
    write(HEADER_DIR, "ptbxl_mv.hea", hea)
    record_seed("ptbxl_mv", hea, [mat_v4(rows)])

    # Ningbo: an empty #Dx item, CRLF line ends.
    rows = leads(12, 100, 500.0, 3)
    hea = header("JS99999 12 500 100", ["JS99999.mat"] * 12, ["1000/mV"] * 12, rows, TWELVE, ningbo_comments,
                 newline="\r\n")
    write(HEADER_DIR, "ningbo_crlf.hea", hea)
    record_seed("ningbo_crlf", hea, [mat_v4(rows)])

    # St Petersburg style: 257 Hz, exponent gains, a baseline, uV units; three leads.
    rows = leads(3, 200, 257.0, 4)
    hea = header("I99 3 257 200", ["I99.mat"] * 3, ["1.000e+03/mV", "1000(-12)/mV", "1000000(3)/uV"], rows,
                 ["I", "II", "V1"], ["#Age: NaN", "#Sex: Unknown", "#Dx: 164884008", "#Rx: Unknown"])
    write(HEADER_DIR, "exp_gain_baseline.hea", hea)
    record_seed("exp_gain_baseline", hea, [mat_v4(rows)])

    # Plain WFDB: format 16 in a .dat file, no byte offset, 1000 Hz, fs with a counter frequency.
    rows = leads(2, 300, 1000.0, 5)
    hea = header("S0001 2 1000/1000(0) 300", ["S0001.dat"] * 2, ["200/mV", "0/mV"], rows, ["ii", "v5"],
                 ["#Age: 45", "#Sex: F"])
    write(HEADER_DIR, "format16_dat.hea", hea)
    record_seed("format16_dat", hea, [format16(rows)])

    # Leads split over two MAT v4 files (each file's leads in header order).
    rows = leads(12, 100, 500.0, 6)
    hea = header("Q9999 12 500 100", ["Q9999a.mat"] * 6 + ["Q9999b.mat"] * 6, ["1000/mV"] * 12, rows, TWELVE,
                 ningbo_comments)
    record_seed("two_mat_files", hea, [mat_v4(rows[:6]), mat_v4(rows[6:])])

    # A header with no init values / checksums and a lead description with spaces.
    hea = b"A1 1 500 60\nA1.mat 16+24 1000/mV\n#Dx: 426783006\n"
    write(HEADER_DIR, "minimal.hea", hea)
    hea2 = b"A1 1 500 60\nA1.mat 16+24 1000/mV 16 0 0 0 0 chest lead V1\n"
    write(HEADER_DIR, "lead_name_spaces.hea", hea2)
    rows = leads(1, 60, 500.0, 7)
    record_seed("minimal", hea, [mat_v4(rows)])
    # A truncated MAT file and a checksum that does not match, each a refusal the reader must name.
    rows = leads(12, 50, 500.0, 8)
    hea = header("T1 12 500 50", ["T1.mat"] * 12, ["1000/mV"] * 12, rows, TWELVE, ningbo_comments)
    record_seed("truncated_mat", hea, [mat_v4(rows)[:-7]])
    cs = checksum(rows[0])
    record_seed("checksum_mismatch", hea.replace(b" %d 0 I\n" % cs, b" %d 0 I\n" % (cs + 1)), [mat_v4(rows)])


if __name__ == "__main__":
    main()
