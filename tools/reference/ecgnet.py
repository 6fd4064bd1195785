#!/usr/bin/python3
"""EcgNet in PyTorch, written from spec/model.md: the reference the C++ engine's golden tests are checked against.

Parameter and buffer names and shapes are those of the published checkpoints, so a checkpoint loads with
load_state_dict(strict=True). Convolutions are Conv2d with (1, K) kernels on a (B, 12, 1, T) input because the
checkpoints store conv weights as (Cout, Cin, 1, K); the model itself takes and returns the engine's (B, 12, T).

Run it directly to check names, shapes and parameter counts against the fixture checkpoint:

    /usr/bin/python3 tools/reference/ecgnet.py [--fixtures ../shared/fixtures]
"""
import argparse
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {  # name: (width C, transformer layers L)
    "tinylight": (64, 1),
    "tiny": (128, 4),
    "light": (128, 8),
    "base": (256, 8),
    "mediumv2": (512, 8),
    "medium": (512, 12),
    "large": (768, 12),
}
HEADS = 16
TOKENS = 96          # 6144 / 4^3: the causal mask is sized for the default input length
PE_ROWS = 200
SLOPE = 0.01


# ------------------------------------------------------------------------------------------------------ LoRA
class LoraConv2d(nn.Conv2d):
    """Conv2d whose effective weight is W + scaling * (B A) reshaped, once enable_lora() has added A and B."""

    def enable_lora(self, rank, alpha):
        cout, cin, kh, kw = self.weight.shape
        self.lora_A = nn.Parameter(torch.zeros(rank, cin * kh * kw, dtype=self.weight.dtype))
        self.lora_B = nn.Parameter(torch.zeros(cout, rank, dtype=self.weight.dtype))
        self.lora_scaling = alpha / rank
        nn.init.normal_(self.lora_A, 0.0, 0.02)

    def effective_weight(self):
        if not hasattr(self, "lora_A"):
            return self.weight
        # (Cout, r) @ (r, Cin*K) flattens Cin-major, K-minor: the row-major order of the (Cout, Cin, 1, K) weight.
        return self.weight + self.lora_scaling * (self.lora_B @ self.lora_A).view_as(self.weight)

    def forward(self, x):
        return self._conv_forward(x, self.effective_weight(), self.bias)


class LoraLinear(nn.Linear):
    """Ordinary Linear, weight (out, in), with an optional adapter pair A (r, in), B (out, r)."""

    def enable_lora(self, rank, alpha):
        self.lora_A = nn.Parameter(torch.zeros(rank, self.in_features, dtype=self.weight.dtype))
        self.lora_B = nn.Parameter(torch.zeros(self.out_features, rank, dtype=self.weight.dtype))
        self.lora_scaling = alpha / rank
        nn.init.normal_(self.lora_A, 0.0, 0.02)

    def forward(self, x):
        y = F.linear(x, self.weight, self.bias)
        if hasattr(self, "lora_A"):
            y = y + self.lora_scaling * F.linear(F.linear(x, self.lora_A), self.lora_B)
        return y


class InputMajorLinear(nn.Module):
    """GPT-2 style projection: weight stored (in, out), y = x W + b. c_attn carries one adapter pair per q, k, v."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out))
        nn.init.normal_(self.weight, 0.0, 0.02)
        self.chunks = ()

    def enable_lora(self, rank, alpha, chunks):
        n_in, n_out = self.weight.shape
        part = n_out // len(chunks)
        self.chunks = tuple(chunks)
        self.lora_A = nn.ParameterDict()
        self.lora_B = nn.ParameterDict()
        for c in chunks:
            a = nn.Parameter(torch.zeros(rank, n_in, dtype=self.weight.dtype))
            nn.init.kaiming_uniform_(a, a=math.sqrt(5))
            self.lora_A[c] = a
            self.lora_B[c] = nn.Parameter(torch.zeros(part, rank, dtype=self.weight.dtype))
        self.lora_scaling = alpha / rank

    def forward(self, x):
        y = x @ self.weight + self.bias
        if self.chunks:
            # Chunk j adapts output columns [j*out/n, (j+1)*out/n) of the input-major weight.
            delta = torch.cat([F.linear(F.linear(x, self.lora_A[c]), self.lora_B[c]) for c in self.chunks], dim=-1)
            y = y + self.lora_scaling * delta
        return y


# ---------------------------------------------------------------------------------------------------- encoder
class ConvUnit(nn.Module):
    """Holds `.conv` only because the checkpoint names are `conv1.conv.weight`."""

    def __init__(self, cin, cout, k, stride, padding):
        super().__init__()
        self.conv = LoraConv2d(cin, cout, (1, k), stride=(1, stride), padding=(0, padding), bias=True)

    def forward(self, x):
        return self.conv(x)


class ResidualBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = ConvUnit(cin, cout, 9, 4, 4)
        self.bn1 = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)
        self.conv2 = ConvUnit(cout, cout, 9, 1, 4)
        self.bn2 = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)
        self.pool = nn.AvgPool2d((1, 4), stride=(1, 4))
        self.conv3 = ConvUnit(cin, cout, 1, 1, 0)

    def forward(self, x):  # x (B, Cin, 1, T)
        h = F.leaky_relu(self.bn1(self.conv1(x)), SLOPE)
        h = F.leaky_relu(self.bn2(self.conv2(h)), SLOPE)
        return h + self.conv3(self.pool(x))


# ------------------------------------------------------------------------------------------------ transformer
def sinusoid_table(rows, width):
    p = torch.arange(rows, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, width, 2, dtype=torch.float64)[None, :]
    angle = p / torch.pow(10000.0, two_i / width)
    pe = torch.zeros(rows, width, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)
    return pe.float()


class PositionEncoding(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.register_buffer("positional_encoding", sinusoid_table(PE_ROWS, width))

    def forward(self, x):  # (B, N, C)
        return x + self.positional_encoding[: x.shape[1]]


class CausalSelfAttention(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.c_attn = InputMajorLinear(width, 3 * width)
        self.c_proj = InputMajorLinear(width, width)
        self.register_buffer("bias", torch.tril(torch.ones(TOKENS, TOKENS)).view(1, 1, TOKENS, TOKENS))

    def forward(self, x):
        b, n, c = x.shape
        d = c // HEADS
        q, k, v = self.c_attn(x).split(c, dim=2)
        q, k, v = (t.reshape(b, n, HEADS, d).transpose(1, 2) for t in (q, k, v))  # (B, H, N, d)
        scores = q @ k.transpose(-2, -1) / math.sqrt(d)
        mask = self.bias[:, :, :n, :n]
        # The reference's masking, kept verbatim: masked scores become exactly -1e10 and vanish in the softmax.
        scores = scores * mask - 1e10 * (1 - mask)
        o = torch.softmax(scores, dim=-1) @ v
        return self.c_proj(o.transpose(1, 2).reshape(b, n, c))


class TransformerLayer(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.norm1 = nn.LayerNorm(width, eps=1e-5)
        self.self_attention = CausalSelfAttention(width)
        self.norm2 = nn.LayerNorm(width, eps=1e-5)
        self.fc1 = LoraLinear(width, 4 * width)
        self.fc2 = LoraLinear(4 * width, width)

    def forward(self, x):
        x = x + self.self_attention(self.norm1(x))
        return x + self.fc2(F.leaky_relu(self.fc1(self.norm2(x)), SLOPE))


# ---------------------------------------------------------------------------------------------------- network
class EcgNet(nn.Module):
    def __init__(self, preset="tinylight", n_classes=6, aux_head=True, leads=12):
        super().__init__()
        width, layers = PRESETS[preset]
        self.width = width
        self.encoder_layers = nn.ModuleList(
            [ResidualBlock(leads, width), ResidualBlock(width, width), ResidualBlock(width, width)])
        self.position_encoding = PositionEncoding(width)
        self.transformer_layers = nn.ModuleList([TransformerLayer(width) for _ in range(layers)])
        self.classifier = nn.Sequential(LoraLinear(width, width), LoraLinear(width, n_classes))
        self.auxiliary_classifier = None
        if aux_head:
            self.auxiliary_classifier = nn.Sequential(
                LoraLinear(width, width // 2), nn.LeakyReLU(SLOPE), LoraLinear(width // 2, 1))
        self.trace = None  # a dict to record intermediates into, or None

    def add_aux_head(self):
        """Fresh auxiliary head (PyTorch's default Linear init), drawn from the current global RNG state."""
        w = self.width
        self.auxiliary_classifier = nn.Sequential(LoraLinear(w, w // 2), nn.LeakyReLU(SLOPE), LoraLinear(w // 2, 1))

    def enable_lora(self, rank, alpha):
        """Adapters on every conv, c_attn (q, k, v), fc1, fc2, classifier.0, auxiliary_classifier.0, in module
        order; A values are drawn from the global RNG, B starts at zero (spec/model.md "LoRA")."""
        for blk in self.encoder_layers:
            for unit in (blk.conv1, blk.conv2, blk.conv3):
                unit.conv.enable_lora(rank, alpha)
        for layer in self.transformer_layers:
            layer.self_attention.c_attn.enable_lora(rank, alpha, ("q", "k", "v"))
            layer.fc1.enable_lora(rank, alpha)
            layer.fc2.enable_lora(rank, alpha)
        self.classifier[0].enable_lora(rank, alpha)
        if self.auxiliary_classifier is not None:
            self.auxiliary_classifier[0].enable_lora(rank, alpha)

    def _record(self, name, t):
        if self.trace is not None:
            self.trace[name] = t

    def forward(self, x):  # x (B, leads, T) -> (aux_logit (B, 1) or None, main_logits (B, n))
        h = x.unsqueeze(2)
        for i, blk in enumerate(self.encoder_layers):
            h = blk(h)
            self._record(f"encoder_layers.{i}.out", h.squeeze(2))
        h = h.squeeze(2).transpose(1, 2)  # (B, N, C)
        h = self.position_encoding(h)
        self._record("tokens", h)
        for j, layer in enumerate(self.transformer_layers):
            h = layer(h)
            self._record(f"transformer_layers.{j}.out", h)
        features = h.max(dim=1).values
        self._record("features", features)
        main = self.classifier(features)
        aux = self.auxiliary_classifier(features) if self.auxiliary_classifier is not None else None
        return aux, main


def count(model):
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for b in model.buffers())
    return params, buffers


def load_fixture(path):
    return torch.load(path, map_location="cpu")


def check_lora_two_step():
    """The engine evaluates a conv adapter as conv(x, A) then a 1x1 conv B; the merged weight here must agree."""
    torch.manual_seed(3)
    conv = LoraConv2d(5, 7, (1, 9), stride=(1, 4), padding=(0, 4)).double()
    conv.enable_lora(3, 6.0)
    with torch.no_grad():
        conv.lora_B.normal_(0.0, 0.5)
    x = torch.randn(2, 5, 1, 64, dtype=torch.float64)
    a = conv.lora_A.view(3, 5, 1, 9)
    two_step = F.conv2d(x, conv.weight, conv.bias, (1, 4), (0, 4)) + conv.lora_scaling * F.conv2d(
        F.conv2d(x, a, None, (1, 4), (0, 4)), conv.lora_B[:, :, None, None])
    err = (conv(x) - two_step).abs().max().item()
    assert err < 1e-12, err
    return err


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--fixtures", default=os.path.normpath(os.path.join(here, "..", "..", "..", "shared", "fixtures")))
    args = ap.parse_args()
    ckpt = os.path.join(args.fixtures, "pretrained", "CODE_testtinylightbias_full_checkpoint.pkl")

    sd = load_fixture(ckpt)
    model = EcgNet("tinylight", n_classes=6, aux_head=False)
    model.load_state_dict(sd, strict=True)
    n_param, n_buf = count(model)
    assert len(sd) == 66 and len(model.state_dict()) == 66, len(sd)
    assert n_param == 256_070, n_param
    assert n_buf == 22_790, n_buf
    # The stored tables must be the ones the spec's formulas give, or the spec (and the engine) would be wrong. The
    # checkpoint's table was evaluated in float32 (sin of a float32 angle up to 199 rad), so it is off the float64
    # table by up to ~1e-5; the goldens use the loaded buffer, never the formula.
    pe_err = (sd["position_encoding.positional_encoding"] - sinusoid_table(PE_ROWS, 64)).abs().max().item()
    assert pe_err < 2e-5, pe_err
    assert torch.equal(sd["transformer_layers.0.self_attention.bias"], torch.tril(torch.ones(96, 96))[None, None])
    print(f"fixture: {len(sd)} tensors, {n_param:,} parameters, {n_buf:,} buffer elements, PE max err {pe_err:.2e}")

    medium = EcgNet("medium", n_classes=6, aux_head=True)
    n_medium = count(medium)[0]
    assert n_medium == 50_618_887, n_medium
    print(f"medium (6 classes, aux head): {n_medium:,} parameters")
    for name in PRESETS:
        m = EcgNet(name, n_classes=6, aux_head=True)
        print(f"  {name:10s} C={m.width:4d} L={len(m.transformer_layers):2d} params={count(m)[0]:>12,}")
    print(f"conv LoRA merged vs two-step: max diff {check_lora_two_step():.1e}")
    print(f"torch {torch.__version__}")


if __name__ == "__main__":
    main()
