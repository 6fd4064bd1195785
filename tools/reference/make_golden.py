#!/usr/bin/python3
"""Golden tensors for the C++ EcgNet tests, computed with the PyTorch reference in ecgnet.py.

Run by hand with the system Python that has torch (/usr/bin/python3); the outputs in tests/golden/ecgnet/ are
committed and the engine's tests never run Python:

    /usr/bin/python3 tools/reference/make_golden.py [--fixtures ../shared/fixtures] [--out tests/golden/ecgnet]

Every file, name and convention is described in tools/reference/README.md; keep the two in step.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ecgnet import EcgNet  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
CKPT_NAME = "CODE_testtinylightbias_full_checkpoint.pkl"

B, LEADS, T = 2, 12, 6144
LABELS = [[1, 0, 0, 1, 0, 0],   # 1dAVb + SB: abnormal, aux target 1
          [0, 0, 0, 0, 0, 0]]   # none of the six: aux target 0, so a(y) is exercised both ways
AUX_WEIGHT = 0.5
LORA_RANK, LORA_ALPHA = 4, 4.0
ACT_FULL_MAX = 16384    # activations with more elements are stored every ACT_STRIDE-th element
ACT_STRIDE = 7
GRAD_FULL_MAX = 4096    # gradients with more elements are stored every GRAD_STRIDE-th element
GRAD_STRIDE = 5


# ------------------------------------------------------------------------------------------------- the input
def make_input():
    """x[b, c, t] from a closed formula, evaluated with libm in float64 (as C++ std::sin/cos/exp would be) and
    rounded to float32. The expression order is the one written in README.md; it matters only in the last ulp."""
    twopi = 2.0 * math.pi
    x = np.empty((B, LEADS, T), dtype=np.float64)
    for b in range(B):
        for c in range(LEADS):
            row = x[b, c]
            for t in range(T):
                u = (t + 37 * b) % 400 - 200
                row[t] = (0.8 * math.sin(twopi * (c + 1) * t / 700.0 + 0.3 * b)
                          + 0.3 * math.cos(twopi * t / 97.0 + c)
                          + (1.2 - 0.1 * c) * math.exp(-(u * u) / 50.0)
                          - 0.1)
    return x.astype(np.float32)


# ------------------------------------------------------------------------------------------------ safetensors
def write_safetensors(path, tensors, metadata):
    """tensors: ordered {name: float32 ndarray}; metadata: {str: str}. Written to a temp file, then renamed."""
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr, dtype="<f4")
        data = arr.tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    hdr = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hdr += b" " * (-len(hdr) % 8)  # the data then starts 8-byte aligned
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hdr)))
        f.write(hdr)
        for d in blobs:
            f.write(d)
    os.replace(tmp, path)


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0 and 8 + n <= len(raw), path
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items())
    data = raw[8 + n:]
    out, end = {}, 0
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        b0, b1 = info["data_offsets"]
        assert info["dtype"] == "F32" and b0 == end and b1 - b0 == 4 * int(np.prod(info["shape"])), name
        out[name] = np.frombuffer(data[b0:b1], dtype="<f4").reshape(info["shape"])
        end = b1
    assert end == len(data), f"{path}: {len(data) - end} trailing bytes"
    return out, meta


def verify_round_trip(path, tensors, metadata):
    back, meta = read_safetensors(path)
    assert meta == metadata, path
    assert list(back) == list(tensors), path
    for name, arr in tensors.items():
        a = np.ascontiguousarray(arr, dtype="<f4")
        assert back[name].shape == a.shape and back[name].tobytes() == a.tobytes(), (path, name)


# ------------------------------------------------------------------------------------------------ recording
def g17(v):
    return repr(float(v))  # shortest string that round-trips a double


class Golden:
    """One output file: tensors (full or subsampled), with sums and the float32-vs-float64 gap in the metadata."""

    def __init__(self, full_max, stride):
        self.tensors, self.meta = {}, {}
        self.full_max, self.stride = full_max, stride

    def add(self, name, t32, t64=None, full=False):
        a = t32.detach().cpu().numpy().astype(np.float32)
        flat = a.reshape(-1)
        if full or flat.size <= self.full_max:
            self.tensors[name] = a
        else:
            # Metadata keys use the plain name: the sums are over the whole tensor, not the stored subsample.
            self.tensors[f"{name}.every{self.stride}"] = flat[:: self.stride].copy()
            self.meta[f"{name}.shape"] = json.dumps(list(a.shape))
            self.meta[f"{name}.stride"] = str(self.stride)
            self.meta[f"{name}.sum_f64"] = g17(math.fsum(flat.astype(np.float64)))
            self.meta[f"{name}.sumsq_f64"] = g17(math.fsum((flat.astype(np.float64)) ** 2))
        if t64 is not None:
            d = (t32.detach().double() - t64.detach()).abs().max().item()
            self.meta[f"{name}.f64_max_abs_diff"] = f"{d:.3e}"
            self.meta[f"{name}.f64_max_abs"] = f"{t64.detach().abs().max().item():.3e}"

    def write(self, path, common_meta):
        meta = dict(common_meta)
        meta.update(self.meta)
        write_safetensors(path, self.tensors, meta)
        verify_round_trip(path, self.tensors, meta)
        return os.path.getsize(path)


# ---------------------------------------------------------------------------------------------------- models
def aux_target(y):
    return y.max(dim=1, keepdim=True).values


def losses(aux, main, y):
    l_main = F.binary_cross_entropy_with_logits(main, y)
    l_aux = F.binary_cross_entropy_with_logits(aux, aux_target(y))
    return l_main + AUX_WEIGHT * l_aux, l_main, l_aux


def build_base(sd, aux_state):
    m = EcgNet("tinylight", n_classes=6, aux_head=False)
    m.load_state_dict(sd, strict=True)
    m.add_aux_head()
    m.auxiliary_classifier.load_state_dict(aux_state, strict=True)
    return m


def build_lora(sd, aux_state, lora_state):
    m = build_base(sd, aux_state)
    m.enable_lora(LORA_RANK, LORA_ALPHA)
    missing, unexpected = m.load_state_dict(lora_state, strict=False)
    assert not unexpected and all("lora_" not in k for k in missing), (missing, unexpected)
    return m


def run(model, x, y, trace=False, grads=True):
    model.trace = {} if trace else None
    model.zero_grad(set_to_none=True)
    aux, main = model(x)
    loss, l_main, l_aux = losses(aux, main, y)
    if grads:
        loss.backward()
    tr, model.trace = model.trace, None
    return aux, main, loss, l_main, l_aux, tr


def is_finetune_param(name):
    """The fine-tuning set of spec/model.md "What trains": adapters, every bias, classifier.1.weight, aux head."""
    return ("lora_" in name or name.endswith(".bias") or name == "classifier.1.weight"
            or name.startswith("auxiliary_classifier."))


def add_outputs(g, out32, out64):
    aux, main, loss, l_main, l_aux = out32[:5]
    aux64, main64, loss64, l_main64, l_aux64 = out64[:5]
    g.add("main_logits", main, main64)
    g.add("aux_logit", aux, aux64)
    for n, a, b in (("loss", loss, loss64), ("loss_main", l_main, l_main64), ("loss_aux", l_aux, l_aux64)):
        g.add(n, a.reshape(1), b.reshape(1))
        g.meta[n] = g17(a.item())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fixtures", default=os.path.normpath(os.path.join(ROOT, "..", "shared", "fixtures")))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "golden", "ecgnet"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)  # one summation order, so a rerun writes the same bytes
    torch.use_deterministic_algorithms(True)

    sd = torch.load(os.path.join(args.fixtures, "pretrained", CKPT_NAME), map_location="cpu")
    common = {"generator": "tools/reference/make_golden.py", "torch_version": torch.__version__,
              "checkpoint": CKPT_NAME, "preset": "tinylight", "n_classes": "6", "aux_weight": g17(AUX_WEIGHT)}

    x_np = make_input()
    x = torch.from_numpy(x_np)
    x64 = x.double()
    y = torch.tensor(LABELS, dtype=torch.float32)
    y64 = y.double()

    # Fresh auxiliary head from seed 0: the C++ side reads these values rather than reproducing torch's RNG.
    torch.manual_seed(0)
    probe = EcgNet("tinylight", n_classes=6, aux_head=False)
    probe.add_aux_head()
    aux_state = {k: v.detach().clone() for k, v in probe.auxiliary_classifier.state_dict().items()}

    sizes = {}

    # ---- inputs.safetensors
    flat_x = x_np.reshape(-1).astype(np.float64)
    g = Golden(10 ** 9, 1)
    g.add("y", y)
    g.add("x.first16", x.reshape(-1)[:16])
    for k, v in aux_state.items():
        g.add(f"auxiliary_classifier.{k}", v)
    g.meta.update({
        "x.shape": json.dumps([B, LEADS, T]),
        "x.first16": json.dumps([float(v) for v in x_np.reshape(-1)[:16]]),
        "x.sum_f64": g17(math.fsum(flat_x)),
        "x.sumsq_f64": g17(math.fsum(flat_x ** 2)),
        "y": json.dumps(LABELS),
    })
    sizes["inputs.safetensors"] = g.write(os.path.join(args.out, "inputs.safetensors"), common)

    # ---- eval: BatchNorm on running statistics, gradient of every parameter
    m32 = build_base(sd, aux_state).eval()
    m64 = build_base(sd, aux_state).double().eval()
    o32 = run(m32, x, y, trace=True)
    o64 = run(m64, x64, y64, trace=True)
    g = Golden(ACT_FULL_MAX, ACT_STRIDE)
    for name, t in o32[5].items():
        g.add(name, t, o64[5][name])
    add_outputs(g, o32, o64)
    sizes["eval.safetensors"] = g.write(os.path.join(args.out, "eval.safetensors"), dict(common, bn_mode="eval"))

    p64 = dict(m64.named_parameters())
    g = Golden(GRAD_FULL_MAX, GRAD_STRIDE)
    for name, p in m32.named_parameters():
        g.add(name, p.grad, p64[name].grad)
    sizes["eval_grads.safetensors"] = g.write(os.path.join(args.out, "eval_grads.safetensors"),
                                              dict(common, bn_mode="eval", of="d loss / d parameter"))
    n_eval_grads = len(g.tensors)

    # ---- LoRA r=4, alpha 4, both adapters non-zero so that every adapter gradient is non-trivial
    lm = build_base(sd, aux_state)
    lm.enable_lora(LORA_RANK, LORA_ALPHA)
    torch.manual_seed(1)
    with torch.no_grad():
        for name, p in lm.named_parameters():
            if "lora_" in name:
                p.normal_(0.0, 0.02)
    lora_state = {k: v.detach().clone() for k, v in lm.state_dict().items() if "lora_" in k}
    g = Golden(10 ** 9, 1)
    for k, v in lora_state.items():
        g.add(k, v)
    sizes["lora_adapters.safetensors"] = g.write(
        os.path.join(args.out, "lora_adapters.safetensors"),
        dict(common, lora_rank=str(LORA_RANK), lora_alpha=g17(LORA_ALPHA), lora_scaling=g17(LORA_ALPHA / LORA_RANK)))

    l32 = build_lora(sd, aux_state, lora_state).eval()
    l64 = build_lora(sd, aux_state, {k: v.double() for k, v in lora_state.items()}).double().eval()
    lo32 = run(l32, x, y)
    lo64 = run(l64, x64, y64)
    g = Golden(10 ** 9, 1)
    add_outputs(g, lo32, lo64)
    lora_meta = dict(common, bn_mode="eval", lora_rank=str(LORA_RANK), lora_alpha=g17(LORA_ALPHA))
    sizes["lora.safetensors"] = g.write(os.path.join(args.out, "lora.safetensors"), lora_meta)
    lp64 = dict(l64.named_parameters())
    g = Golden(GRAD_FULL_MAX, GRAD_STRIDE)
    for name, p in l32.named_parameters():
        if is_finetune_param(name):
            g.add(name, p.grad, lp64[name].grad)
    sizes["lora_grads.safetensors"] = g.write(os.path.join(args.out, "lora_grads.safetensors"),
                                              dict(lora_meta, of="d loss / d parameter, fine-tuning set only"))
    n_lora_grads = len(g.tensors)

    # ---- training-mode BatchNorm: batch statistics, running statistics updated once
    t32 = build_base(sd, aux_state).train()
    t64 = build_base(sd, aux_state).double().train()
    to32 = run(t32, x, y, grads=False)
    to64 = run(t64, x64, y64, grads=False)
    g = Golden(10 ** 9, 1)
    add_outputs(g, to32, to64)
    b64 = dict(t64.named_buffers())
    nbt = {}
    for name, buf in t32.named_buffers():
        if ".bn" in name and ("running_mean" in name or "running_var" in name):
            g.add(name, buf, b64[name])
        elif name.endswith("num_batches_tracked"):
            nbt[name] = int(buf.item())
    assert set(nbt.values()) == {int(sd["encoder_layers.0.bn1.num_batches_tracked"].item()) + 1}, nbt
    sizes["train_bn.safetensors"] = g.write(
        os.path.join(args.out, "train_bn.safetensors"),
        dict(common, bn_mode="train", num_batches_tracked_after=str(next(iter(nbt.values())))))

    # ---- report
    print(f"torch {torch.__version__}, numpy {np.__version__}")
    print(f"x sum {math.fsum(flat_x)!r}, first4 {x_np.reshape(-1)[:4].tolist()}, range [{x_np.min()}, {x_np.max()}]")
    for tag, o in (("eval", o32), ("lora", lo32), ("train_bn", to32)):
        print(f"{tag:9s} loss {o[2].item():.9g} (main {o[3].item():.9g}, aux {o[4].item():.9g})")
        print(f"          main {o[1].detach().numpy().tolist()}")
        print(f"          aux  {o[0].detach().numpy().reshape(-1).tolist()}")
    print(f"gradient tensors: eval {n_eval_grads}, lora {n_lora_grads}")
    total = 0
    for k, v in sizes.items():
        print(f"  {k:28s} {v:>9,} bytes")
        total += v
    print(f"  {'total':28s} {total:>9,} bytes")


if __name__ == "__main__":
    main()
