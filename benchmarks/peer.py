"""The peer baseline: the tiny-diffusion toy recipe, written here in PyTorch from its
published settings (github.com/tanelp/tiny-diffusion, its README and ablations).

The recipe: each coordinate of x and the step t become 128 sinusoidal features
(x at scale 25, t at scale 1), concatenated; Linear(384, 128), GELU, three residual
blocks x + GELU(Linear(x)), Linear(128, 2); T = 50 linear betas 1e-4 to 0.02; ε target,
uniform t; AdamW(1e-3) (weight decay 0.01) with global-norm clipping at 1.0; batch 256,
150 epochs; ancestral sampling with the posterior variance β̃ (no noise at the last
step). Only the data handling is ours: the peer trains on the same rows as jaxdiff,
standardised per feature as jaxdiff's recipes are (its scale-25 features assume unit-scale
data), and its samples are mapped back to data units.

Run as a script it trains on the rows of a ``.npy`` file (the training rows of a jaxdiff
run, in data units) in its own process, so that no XLA thread pool steals its cores, and
writes its samples beside a JSON of its training seconds:

    python benchmarks/peer.py --rows rows.npy --out samples.npy [--epochs 150] [--seed 0]

torch is optional (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import time

import numpy as np

NUM_STEPS = 50
EMB = 128
HIDDEN = 128
BLOCKS = 3


def _torch():
    import torch

    return torch


def _sinusoidal(torch, u, size, scale):
    half = size // 2
    freq = torch.exp(-math.log(10_000.0) / (half - 1) * torch.arange(half, dtype=torch.float32))
    angle = scale * u[:, None] * freq[None, :]
    return torch.cat([torch.sin(angle), torch.cos(angle)], dim=-1)


def make_model():
    torch = _torch()
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ff = nn.Linear(HIDDEN, HIDDEN)
            self.act = nn.GELU()

        def forward(self, h):
            return h + self.act(self.ff(h))

    class Peer(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(
                nn.Linear(3 * EMB, HIDDEN),
                nn.GELU(),
                *[Block() for _ in range(BLOCKS)],
                nn.Linear(HIDDEN, 2),
            )

        def forward(self, x, t):
            feats = [
                _sinusoidal(torch, x[:, 0], EMB, 25.0),
                _sinusoidal(torch, x[:, 1], EMB, 25.0),
                _sinusoidal(torch, t.float(), EMB, 1.0),
            ]
            return self.net(torch.cat(feats, dim=-1))

    return Peer()


def schedule():
    torch = _torch()
    betas = torch.linspace(1e-4, 0.02, NUM_STEPS, dtype=torch.float32)
    abar = torch.cumprod(1 - betas, 0)
    abar_prev = torch.cat([torch.ones(1), abar[:-1]])
    return betas, abar, abar_prev


def train(x: np.ndarray, seed: int, epochs: int = 150, batch: int = 256):
    """Trains the peer on ``x`` (standardised rows); returns the model and seconds."""
    torch = _torch()
    torch.manual_seed(seed)
    model = make_model()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    _, abar, _ = schedule()
    data = torch.tensor(x, dtype=torch.float32)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(data), batch_size=batch, shuffle=True, drop_last=True
    )
    t0 = time.perf_counter()
    for _ in range(epochs):
        for (x0,) in loader:
            noise = torch.randn_like(x0)
            t = torch.randint(0, NUM_STEPS, (x0.shape[0],))
            a = abar[t].sqrt()[:, None]
            s = (1 - abar[t]).sqrt()[:, None]
            loss = torch.nn.functional.mse_loss(model(a * x0 + s * noise, t), noise)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
    return model, time.perf_counter() - t0


def sample(model, n: int, seed: int) -> np.ndarray:
    """Ancestral sampling with variance β̃ and no noise at the last step."""
    torch = _torch()
    torch.manual_seed(seed)
    betas, abar, abar_prev = schedule()
    x = torch.randn(n, 2)
    with torch.inference_mode():
        for t in range(NUM_STEPS - 1, -1, -1):
            eps = model(x, torch.full((n,), t))
            x0 = (x - (1 - abar[t]).sqrt() * eps) / abar[t].sqrt()
            c1 = abar_prev[t].sqrt() * betas[t] / (1 - abar[t])
            c2 = (1 - betas[t]).sqrt() * (1 - abar_prev[t]) / (1 - abar[t])
            x = c1 * x0 + c2 * x
            if t > 0:
                var = betas[t] * (1 - abar_prev[t]) / (1 - abar[t])
                x = x + var.clamp(min=1e-20).sqrt() * torch.randn_like(x)
    return x.numpy()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", required=True, help=".npy of training rows, data units")
    p.add_argument("--out", required=True, help=".npy of samples to write")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=150)
    p.add_argument("--samples", type=int, default=10_000)
    args = p.parse_args()
    x = np.load(args.rows).astype(np.float64)
    mean, std = x.mean(0), x.std(0)
    model, seconds = train((x - mean) / std, args.seed, args.epochs)
    t0 = time.perf_counter()
    samples = sample(model, args.samples, args.seed) * std + mean
    info = {
        "train_seconds": seconds,
        "sample_seconds": time.perf_counter() - t0,
        "epochs": args.epochs,
        "params": sum(p.numel() for p in model.parameters()),
    }
    out = pathlib.Path(args.out)
    np.save(out, samples.astype(np.float32))
    out.with_suffix(".json").write_text(json.dumps(info))
    print(json.dumps(info))


if __name__ == "__main__":
    main()
