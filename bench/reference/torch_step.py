"""One configuration of the side-by-side benchmark, in PyTorch eager: the steps agf-bench step times, with the same
network (tools/reference/ecgnet.py), the same loss and the same step semantics, and the reference's way of perturbing
(z drawn into a tensor the size of each parameter, from a reseeded generator, every time it is needed).

    python torch_step.py --preset medium --mode fusion --batch 32 --bp-batch 4 --rank 16 [--steps 5] [--threads 2]

Prints one JSON object: median/min/max step time, samples/s, peak RSS of the process, and on a GPU the peak of
torch.cuda.max_memory_allocated. A bench-time tool: the engine never runs Python.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "reference"))
from ecgnet import EcgNet  # noqa: E402  (the project's PyTorch EcgNet, written from spec/model.md)

HEADS = ("classifier.", "auxiliary_classifier.")


def finetune_trainable(name):
    """The engine's EcgNet::finetune_patterns: adapters, biases, the last main-head layer, the auxiliary head."""
    return ("lora_A" in name or "lora_B" in name or name.endswith(".bias") or name == "classifier.1.weight"
            or name.startswith("auxiliary_classifier."))


def fusion_loss(aux, main, y, aux_weight=1.0):
    # spec/fusion.md: BCE(main, y) + aux_weight * BCE(aux, a(y)), a(y) = 1 when any abnormal class is present (no
    # normal class in this synthetic label set, so every labelled record is abnormal).
    a = (y.max(dim=1, keepdim=True).values > 0).to(y.dtype)
    return F.binary_cross_entropy_with_logits(main, y) + aux_weight * F.binary_cross_entropy_with_logits(aux, a)


def perturb(params, seed, scale):
    """The reference's perturbation: per tensor, z materialised from a generator reseeded with the step's seed."""
    gen = torch.Generator(device=params[0].device)
    gen.manual_seed(seed)
    for p in params:
        z = torch.normal(0.0, 1.0, size=p.shape, generator=gen, device=p.device, dtype=p.dtype)
        p.data.add_(z, alpha=scale)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="tinylight")
    ap.add_argument("--mode", default="inference", choices=["inference", "bp", "bp_lora", "zo", "fo_micro", "fusion"])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--bp-batch", type=int, default=4)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--classes", type=int, default=26)
    ap.add_argument("--length", type=int, default=4096)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--zo-eps", type=float, default=1e-3)
    ap.add_argument("--coef", type=float, default=0.5)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    dev = torch.device(a.device)
    model = EcgNet(a.preset, n_classes=a.classes, aux_head=True)
    lora = a.mode not in ("inference", "bp") and a.rank > 0
    if lora:
        model.enable_lora(a.rank, float(a.rank))
    model.to(dev)
    for name, p in model.named_parameters():
        p.requires_grad_(finetune_trainable(name) if lora else True)
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    zo_params = [p for n, p in trainable if not n.startswith(HEADS)]
    x = torch.randn(a.batch, 12, a.length, device=dev)
    y = (torch.rand(a.batch, a.classes, device=dev) > 0.75).float()
    opt = torch.optim.AdamW([p for _, p in trainable], lr=1e-4, weight_decay=0.01) if a.mode != "inference" else None
    b = a.bp_batch if a.mode in ("fusion", "fo_micro") else a.batch

    def step(seed):
        if a.mode == "inference":
            model.eval()
            with torch.no_grad():
                model(x)
            return
        model.train()
        p_zo = 0.0
        if a.mode in ("zo", "fusion"):
            with torch.no_grad():
                perturb(zo_params, seed, a.zo_eps)
                l_plus = fusion_loss(*model(x), y).item()
                perturb(zo_params, seed, -2 * a.zo_eps)
                l_minus = fusion_loss(*model(x), y).item()
                perturb(zo_params, seed, a.zo_eps)
            p_zo = (l_plus - l_minus) / (2 * a.zo_eps)
        opt.zero_grad(set_to_none=True)
        if a.mode in ("bp", "bp_lora", "fo_micro", "fusion"):
            fusion_loss(*model(x[:b]), y[:b]).backward()
        elif a.mode == "zo":  # the heads' gradient on the whole batch
            fusion_loss(*model(x), y).backward()
            for p in zo_params:
                p.grad = None
        if a.mode in ("zo", "fusion"):
            gen = torch.Generator(device=dev)
            gen.manual_seed(seed)
            fo_norm = torch.sqrt(sum((p.grad.double() ** 2).sum() for p in zo_params if p.grad is not None)) \
                if a.mode == "fusion" else None
            for p in zo_params:
                z = torch.normal(0.0, 1.0, size=p.shape, generator=gen, device=dev, dtype=p.dtype)
                if a.mode == "zo":
                    p.grad = p_zo * z
                else:
                    g_zo = fo_norm.float() * (1.0 if p_zo >= 0 else -1.0) * z / (z.norm() + 1e-6)
                    p.grad = a.coef * p.grad + (1 - a.coef) * g_zo
        opt.step()

    times = []
    for s in range(a.warmup + a.steps):
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        step(1000 + s)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        if s >= a.warmup:
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    out = {"side": "pytorch", "torch": torch.__version__, "preset": a.preset, "mode": a.mode, "batch": a.batch,
           "bp_batch": b, "rank": a.rank if lora else 0, "threads": a.threads,
           "trainable": sum(p.numel() for _, p in trainable) if a.mode != "inference" else sum(
               p.numel() for p in model.parameters()),
           "median_s": med, "min_s": min(times), "max_s": max(times), "samples_per_s": a.batch / med,
           "rss_peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    if dev.type == "cuda":
        out["max_memory_allocated"] = torch.cuda.max_memory_allocated()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
