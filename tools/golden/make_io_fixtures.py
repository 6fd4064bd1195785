#!/usr/bin/python3
"""Generates the checkpoint I/O test files in tests/golden/io/ and the fuzz seeds in tests/fuzz/corpus/checkpoint/.

Run by hand with the system Python that has torch 1.13 (/usr/bin/python3); the outputs are committed and the
engine's tests never run Python:

    /usr/bin/python3 tools/golden/make_io_fixtures.py [--fixtures ../shared/fixtures]

What it writes:
  * real torch.save checkpoints (every dtype, views with strides and offsets, a shared storage, wrappers with a
    `module.` prefix, Parameters, a deflated and a ZIP64 re-zip) and a reference safetensors file;
  * hostile or corrupt files, built byte by byte with a tiny pickle emitter and zipfile (nothing is ever unpickled
    here, so the malicious ones are inert);
  * golden.json: every tensor's dtype, shape and values for the small files, and, for the real pretrained fixture,
    counts, shapes and per-tensor sums / first values computed by torch.
"""
import argparse
import collections
import io
import json
import os
import pickle
import struct
import zipfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(ROOT, "tests", "golden", "io")
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus", "checkpoint")

DTYPE_NAMES = {torch.float32: "f32", torch.float64: "f64", torch.float16: "f16", torch.bfloat16: "bf16",
               torch.int64: "i64", torch.int32: "i32", torch.bool: "bool", torch.uint8: "u8"}


def write(name, data, corpus=False):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    if corpus:
        with open(os.path.join(CORPUS, name), "wb") as f:
            f.write(data)


def torch_bytes(obj, **kw):
    buf = io.BytesIO()
    torch.save(obj, buf, **kw)
    return buf.getvalue()


def values_of(t):
    flat = t.detach().reshape(-1)
    if t.dtype in (torch.float16, torch.bfloat16):
        flat = flat.float()
    if t.dtype == torch.bool:
        return [bool(x) for x in flat.tolist()]
    return flat.tolist()


def describe(sd):
    return {k: {"dtype": DTYPE_NAMES[v.dtype], "shape": list(v.shape), "values": values_of(v)} for k, v in sd.items()}


# ---------------------------------------------------------------- real checkpoints

def real_checkpoints(golden):
    g = torch.Generator().manual_seed(4)
    dtypes = collections.OrderedDict()
    dtypes["f32"] = torch.randn(2, 3, generator=g)
    dtypes["f64"] = torch.randn(4, generator=g, dtype=torch.float64)
    dtypes["f16"] = torch.tensor([0.0, -1.5, 65504.0, 6.1e-5, 3.0e-7], dtype=torch.float16)  # incl. a subnormal
    dtypes["bf16"] = torch.tensor([[1.0, -2.5], [3.0e38, 1.0e-40], [0.1, 7.0]], dtype=torch.bfloat16)
    dtypes["i64"] = torch.tensor([-(2 ** 40), 0, 2 ** 62])
    dtypes["i32"] = torch.tensor([[1, -2], [2 ** 31 - 1, -(2 ** 31)]], dtype=torch.int32)
    dtypes["bool"] = torch.tensor([True, False, True, True, False])
    dtypes["u8"] = torch.tensor([0, 1, 254, 255], dtype=torch.uint8)
    dtypes["scalar"] = torch.tensor(12345)  # like num_batches_tracked
    dtypes["empty"] = torch.zeros(0, 3)
    data = torch_bytes(dtypes)
    write("dtypes.pt", data, corpus=True)
    golden["dtypes.pt"] = {"tensors": describe(dtypes), "order": list(dtypes)}

    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    views = collections.OrderedDict()
    views["transposed"] = base.t()           # stride (1, 6), the whole storage
    views["base"] = base                      # shares the storage with every other view
    views["row2"] = base[2]                   # storage offset 12
    views["cols"] = base[1:3, 1:5:2]          # offset 7, strides (6, 2)
    views["expand_free"] = base[:, 5:6]       # a column: offset 5, stride (6, 1)
    write("views.pt", torch_bytes(views), corpus=True)
    golden["views.pt"] = {"tensors": describe(views), "order": list(views)}
    assert not views["transposed"].is_contiguous()

    inner = collections.OrderedDict()
    inner["module.fc.weight"] = torch.randn(3, 2, generator=g)
    inner["module.fc.bias"] = torch.randn(3, generator=g)
    inner["module.bn.num_batches_tracked"] = torch.tensor(7)
    wrapped = {"epoch": 7, "state_dict": inner, "best_acc": 0.875, "arch": "tiny", "note": None}
    write("wrapped.pt", torch_bytes(wrapped))
    golden["wrapped.pt"] = {"tensors": describe({k[len("module."):]: v for k, v in inner.items()}),
                            "order": [k[len("module."):] for k in inner], "wrapper": "state_dict",
                            "skipped": ["epoch", "best_acc", "arch", "note"]}

    msd = {"model_state_dict": {"w": torch.ones(2, 2)}, "epoch": 3, "optimizer_state_dict": {"state": {}}}
    write("model_state_dict.pt", torch_bytes(msd))
    golden["model_state_dict.pt"] = {"tensors": describe(msd["model_state_dict"]), "order": ["w"],
                                     "wrapper": "model_state_dict"}

    params = {"weight": torch.nn.Parameter(torch.randn(2, 3, generator=g)),
              "bias": torch.nn.Parameter(torch.randn(2, generator=g), requires_grad=False)}
    write("parameters.pt", torch_bytes(params))
    golden["parameters.pt"] = {"tensors": describe(params), "order": list(params)}

    # The same archive re-zipped: deflated entries, and ZIP64 records forced on a small file.
    write("deflated.pt", rezip(data, zipfile.ZIP_DEFLATED))
    golden["deflated.pt"] = golden["dtypes.pt"]
    write("zip64.pt", rezip(data, zipfile.ZIP_STORED, force_zip64=True), corpus=True)
    golden["zip64.pt"] = golden["dtypes.pt"]

    # Refused formats.
    write("legacy.pt", torch_bytes({"w": torch.ones(2)}, _use_new_zipfile_serialization=False))
    write("bare_pickle.pt", pickle.dumps({"w": [1.0, 2.0]}, protocol=2))
    return data


def rezip(data, method, force_zip64=False):
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    saved = (zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT)
    if force_zip64:  # make zipfile write ZIP64 extra fields and end records although the file is small
        zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = 0, 0
    try:
        with zipfile.ZipFile(buf, "w", compression=method) as dst:
            for info in src.infolist():
                zi = zipfile.ZipInfo(info.filename, date_time=(2024, 1, 1, 0, 0, 0))
                zi.compress_type = method
                with dst.open(zi, "w", force_zip64=force_zip64) as f:
                    f.write(src.read(info.filename))
    finally:
        zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = saved
    return buf.getvalue()


# ---------------------------------------------------------------- a pickle emitter for hand-made checkpoints

class Pickle:
    def __init__(self, proto=2):
        self.b = bytearray(b"\x80" + bytes([proto]))

    def op(self, *chunks):
        for c in chunks:
            self.b += c if isinstance(c, (bytes, bytearray)) else bytes([c]) if isinstance(c, int) else c.encode()
        return self

    def glob(self, module, name):
        return self.op(b"c", f"{module}\n{name}\n")

    def str(self, s):
        e = s.encode()
        return self.op(b"X", struct.pack("<I", len(e)), e)

    def int(self, v):
        if 0 <= v < 256:
            return self.op(b"K", bytes([v]))
        if -(2 ** 31) <= v < 2 ** 31:
            return self.op(b"J", struct.pack("<i", v))
        return self.op(b"\x8a", bytes([8]), struct.pack("<q", v))

    def tuple_of_ints(self, vs):
        self.op(b"(")
        for v in vs:
            self.int(v)
        return self.op(b"t")

    def tensor(self, storage_type, key, numel, offset, size, stride, location="cuda:0"):
        self.glob("torch._utils", "_rebuild_tensor_v2").op(b"(")
        self.op(b"(").str("storage").glob("torch", storage_type).str(key).str(location).int(numel).op(b"t", b"Q")
        self.int(offset).tuple_of_ints(size).tuple_of_ints(stride)
        self.op(b"\x89").glob("collections", "OrderedDict").op(b")", b"R", b"t", b"R")
        return self

    def state_dict(self, entries):
        """entries: (name, storage_type, key, numel, offset, size, stride)"""
        self.glob("collections", "OrderedDict").op(b")", b"R", b"(")
        for name, *spec in entries:
            self.str(name).tensor(*spec)
        return self.op(b"u", b".")

    def bytes(self):
        return bytes(self.b)


def torch_zip(pkl, storages, byteorder=b"little", method=zipfile.ZIP_STORED, prefix="archive", with_pkl=True):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as z:
        def add(name, data):
            z.writestr(zipfile.ZipInfo(f"{prefix}/{name}", date_time=(2024, 1, 1, 0, 0, 0)), data,
                       compress_type=method)
        if with_pkl:
            add("data.pkl", pkl)
        if byteorder is not None:
            add("byteorder", byteorder)
        for key, data in storages.items():
            add(f"data/{key}", data)
        add("version", b"3\n")
    return buf.getvalue()


F32x4 = struct.pack("<4f", 1.0, 2.0, 3.0, 4.0)


def one_tensor(size, stride, numel=4, offset=0, key="0"):
    return Pickle().state_dict([("w", "FloatStorage", key, numel, offset, size, stride)]).bytes()


def hostile_checkpoints(dtypes_pt):
    good = one_tensor([2, 2], [2, 1])
    write("handmade.pt", torch_zip(good, {"0": F32x4}), corpus=True)
    write("handmade.pkl", good, corpus=True)  # a bare data.pkl: seeds the fuzzer's pickle-only path

    write("truncated.pt", dtypes_pt[: len(dtypes_pt) * 6 // 10])
    z = zipfile.ZipFile(io.BytesIO(dtypes_pt))
    info = z.getinfo(z.namelist()[0].split("/")[0] + "/data/0")
    name_len, extra_len = struct.unpack("<HH", dtypes_pt[info.header_offset + 26: info.header_offset + 30])
    bad = bytearray(dtypes_pt)
    bad[info.header_offset + 30 + name_len + extra_len] ^= 0x01
    write("bad_crc.pt", bytes(bad))
    write("no_data_pkl.pt", torch_zip(b"", {"0": F32x4}, with_pkl=False))
    write("big_endian.pt", torch_zip(good, {"0": F32x4}, byteorder=b"big"))

    unknown = Pickle().glob("collections", "OrderedDict").op(b")", b"R", b"\xf0", b".").bytes()
    write("unknown_opcode.pt", torch_zip(unknown, {}), corpus=True)
    newobj = Pickle().glob("collections", "OrderedDict").op(b")", b"\x81", b".").bytes()
    write("newobj_opcode.pt", torch_zip(newobj, {}))

    system = Pickle().glob("os", "system").str("echo pwned").op(b"\x85", b"R", b".").bytes()
    write("global_os_system.pt", torch_zip(system, {}), corpus=True)
    evil = Pickle().glob("builtins", "eval").str("__import__('os').system('echo pwned')").op(b"\x85", b"R", b".")
    write("global_builtins_eval.pt", torch_zip(evil.bytes(), {}))
    posix = Pickle(4).str("posix").str("system").op(b"\x93").str("echo pwned").op(b"\x85", b"R", b".").bytes()
    write("global_posix_system.pt", torch_zip(posix, {}))
    # An evil global hidden inside an otherwise valid state dict, as a real attack would be.
    hidden = Pickle().glob("collections", "OrderedDict").op(b")", b"R", b"(")
    hidden.str("w").tensor("FloatStorage", "0", 4, 0, [4], [1])
    hidden.str("evil").glob("subprocess", "Popen").str("ls").op(b"\x85", b"R", b"u", b".")
    hidden = hidden.bytes()
    write("global_hidden.pt", torch_zip(bytes(hidden), {"0": F32x4}))

    write("overrun.pt", torch_zip(one_tensor([10], [1]), {"0": F32x4}))
    write("overrun_stride.pt", torch_zip(one_tensor([2, 2], [3, 1]), {"0": F32x4}))
    write("overrun_offset.pt", torch_zip(one_tensor([2], [1], offset=3), {"0": F32x4}))
    write("missing_storage.pt", torch_zip(one_tensor([4], [1], key="7"), {"0": F32x4}))
    write("storage_size_mismatch.pt", torch_zip(one_tensor([4], [1], numel=100), {"0": F32x4}))
    write("negative_shape.pt", torch_zip(one_tensor([-1, 4], [4, 1]), {"0": F32x4}))
    write("huge_shape.pt", torch_zip(one_tensor([2 ** 40, 2 ** 40], [2 ** 40, 1]), {"0": F32x4}))
    short = Pickle().state_dict([("w", "ShortStorage", "0", 8, 0, [8], [1])]).bytes()
    write("short_storage.pt", torch_zip(short, {"0": F32x4}))
    dup = Pickle().state_dict([("module.w", "FloatStorage", "0", 4, 0, [4], [1]),
                               ("w", "FloatStorage", "0", 4, 0, [4], [1])]).bytes()
    write("duplicate_name.pt", torch_zip(dup, {"0": F32x4}))
    not_dict = Pickle().op(b"]", b".").bytes()
    write("not_a_dict.pt", torch_zip(not_dict, {}))

    # Deep structures, deflated so that the committed files stay tiny.
    marks = Pickle().op(b"(" * 100000, b".").bytes()
    write("deep_marks.pt", torch_zip(marks, {}, method=zipfile.ZIP_DEFLATED))
    lists = Pickle().op(b"]" * 200000, b"a" * 199999, b".").bytes()
    write("deep_stack.pt", torch_zip(lists, {}, method=zipfile.ZIP_DEFLATED))
    # A list that contains itself: harmless to the unpickler (values live in an arena), must not leak.
    cyclic = Pickle().op(b"]", b"q\x00", b"h\x00", b"a", b".").bytes()
    write("cyclic.pt", torch_zip(cyclic, {}), corpus=True)


def pickle_values():
    """Plain pickles of every value kind the unpickler knows, at protocols 2 and 4 (FRAME, MEMOIZE,
    SHORT_BINUNICODE, STACK_GLOBAL); tests/io/test_pickle.cpp checks the decoded values item by item."""
    shared = [7]
    values = [0, 1, 255, 256, 65535, 65536, -1, -(2 ** 31), 2 ** 31, 2 ** 40, -(2 ** 40), 2 ** 63 - 1, -(2 ** 63),
              3.5, -0.0, 1e300, "\u00e9cg", "", b"xy", (), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [],
              {"a": None, "b": True, "c": False}, collections.OrderedDict([("k", 1), ("j", 2)]), shared, shared]
    for proto in (2, 4):
        write(f"values_p{proto}.pkl", pickle.dumps(values, protocol=proto), corpus=proto == 4)


# ---------------------------------------------------------------- safetensors

ST_ORDER = {"BOOL": 0, "U8": 1, "F16": 6, "BF16": 7, "I32": 8, "F32": 10, "F64": 11, "I64": 12}
ST_NAMES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
            torch.int64: "I64", torch.int32: "I32", torch.bool: "BOOL", torch.uint8: "U8"}


def tensor_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def safetensors_reference(tensors, metadata=None):
    """The reference implementation's layout: larger dtypes first, then by name; compact JSON; spaces to 8."""
    items = sorted(tensors.items(), key=lambda kv: (-ST_ORDER[ST_NAMES[kv[1].dtype]], kv[0]))
    header, data, off = {}, b"", 0
    if metadata:  # a map in the reference (any order); sorted here, as the engine writes it
        header["__metadata__"] = dict(sorted(metadata.items()))
    for name, t in items:
        b = tensor_bytes(t)
        header[name] = {"dtype": ST_NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        data += b
        off += len(b)
    return raw_safetensors(header, data)


def raw_safetensors(header, data, pad=True):
    h = json.dumps(header, separators=(",", ":")).encode() if not isinstance(header, bytes) else header
    if pad:
        h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


def safetensors_files(golden):
    g = torch.Generator().manual_seed(5)
    ts = collections.OrderedDict()
    ts["weight"] = torch.randn(3, 4, generator=g)
    ts["bias"] = torch.randn(3, generator=g)
    ts["step"] = torch.tensor(1000)
    ts["mask"] = torch.tensor([True, False, True])
    ts["half"] = torch.tensor([1.0, -0.5, 2.0], dtype=torch.float16)
    ts["brain"] = torch.tensor([1.0, -0.5], dtype=torch.bfloat16)
    ts["double"] = torch.tensor([1.0 / 3.0], dtype=torch.float64)
    ts["ids"] = torch.tensor([7, -7], dtype=torch.int32)
    ts["bytes"] = torch.tensor([9, 250], dtype=torch.uint8)
    ts["empty"] = torch.zeros(0)
    meta = {"format": "pt", "config": '{"lr": 0.001}', "step": "1000"}
    write("reference.safetensors", safetensors_reference(ts, meta), corpus=True)
    golden["reference.safetensors"] = {"tensors": describe(ts), "metadata": meta}

    f32 = struct.pack("<4f", 1, 2, 3, 4)
    one = {"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}
    write("st_len_beyond.safetensors", struct.pack("<Q", 1000) + b'{"a":1}' + b" " * 20)
    write("st_huge_header.safetensors", struct.pack("<Q", 2 ** 62) + b"{}      ")
    write("st_short.safetensors", b"\x02\x00\x00")
    write("st_bad_json.safetensors", raw_safetensors(b'{"a": {"dtype": "F32", "shape": [2, 2], "data_off', f32))
    write("st_not_object.safetensors", raw_safetensors(b"[1, 2]", b""))
    write("st_overlap.safetensors", raw_safetensors(
        {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
         "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, f32[:12]))
    write("st_gap.safetensors", raw_safetensors(
        {"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
         "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}, f32))
    write("st_wrong_size.safetensors", raw_safetensors(
        {"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 12]}}, f32[:12]))
    write("st_trailing.safetensors", raw_safetensors(one, f32 + b"junk"), corpus=True)
    write("st_truncated.safetensors", raw_safetensors(one, f32)[:-6])
    write("st_offsets_beyond.safetensors", raw_safetensors(
        {"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16000]}}, f32))
    write("st_bad_dtype.safetensors", raw_safetensors(
        {"a": {"dtype": "Q4", "shape": [4], "data_offsets": [0, 16]}}, f32))
    write("st_unsupported_dtype.safetensors", raw_safetensors(
        {"a": {"dtype": "I16", "shape": [8], "data_offsets": [0, 16]}}, f32))
    write("st_negative_shape.safetensors", raw_safetensors(
        {"a": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}}, f32))
    write("st_overflow_shape.safetensors", raw_safetensors(
        {"a": {"dtype": "F32", "shape": [2 ** 62, 2 ** 62], "data_offsets": [0, 16]}}, f32))
    write("st_metadata_not_string.safetensors", raw_safetensors(
        {"__metadata__": {"step": 5}, **one}, f32))
    write("st_duplicate.safetensors", raw_safetensors(
        b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
        b'"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}', f32))
    write("st_deep_json.safetensors", raw_safetensors(b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}", b""))


# ---------------------------------------------------------------- the real pretrained fixture

BUFFER_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked", "self_attention.bias", "positional_encoding")


def pretrained_summary(fixtures):
    path = os.path.join(fixtures, "pretrained", "CODE_testtinylightbias_full_checkpoint.pkl")
    sd = torch.load(path, map_location="cpu")
    out = {"file": "pretrained/CODE_testtinylightbias_full_checkpoint.pkl", "count": len(sd), "order": list(sd),
           "parameter_elements": 0, "buffer_elements": 0, "tensors": {}}
    for name, t in sd.items():
        key = "buffer_elements" if name.endswith(BUFFER_SUFFIXES) else "parameter_elements"
        out[key] += t.numel()
        flat = t.reshape(-1)
        out["tensors"][name] = {
            "dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape), "stride": list(t.stride()),
            "sum": float(t.double().sum()), "abs_sum": float(t.double().abs().sum()),
            "first": flat[:4].tolist(), "last": flat[-1].item(),
        }
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fixtures", default=os.path.join(ROOT, "..", "shared", "fixtures"))
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    os.makedirs(CORPUS, exist_ok=True)
    golden = {}
    dtypes_pt = real_checkpoints(golden)
    hostile_checkpoints(dtypes_pt)
    pickle_values()
    safetensors_files(golden)
    golden["pretrained"] = pretrained_summary(args.fixtures)
    with open(os.path.join(OUT, "golden.json"), "w") as f:
        json.dump(golden, f, indent=1, sort_keys=False)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes, to {OUT}")


if __name__ == "__main__":
    main()
