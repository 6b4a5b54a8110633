"""The seed's PyTorch code, rendered from ../shared/seed/SEED.md, as a speed baseline only.

Same model (MLPDiffusion: 3 Linear+Embedding layers, ReLU, Linear), same antithetic
L_simple, Adam(1e-3) with global-norm clipping at 1.0, batch 128 with a shuffling
DataLoader, and the same ancestral sampler (a Python loop over ``p_sample``, run, as in the
seed, without ``torch.no_grad``). ``sample(..., inference_mode=True)`` is the best eager
PyTorch can do with the same loop, reported beside it so no baseline is a straw man.

torch is optional (``pip install -e '.[bench]'``); :func:`available` says whether it is.
Run alone: ``python benchmarks/_torch_seed.py`` prints its steps/s and sampling time.
"""

from __future__ import annotations

import time


def available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _torch():
    import torch

    return torch


def schedule(num_steps: int = 100):
    torch = _torch()
    betas = torch.sigmoid(torch.linspace(-6, 6, num_steps)) * (0.5e-2 - 1e-5) + 1e-5
    alphas_prod = torch.cumprod(1 - betas, 0)
    return betas, torch.sqrt(alphas_prod), torch.sqrt(1 - alphas_prod)


def make_model(num_steps: int = 100, num_units: int = 128):
    torch = _torch()
    nn = torch.nn

    class MLPDiffusion(nn.Module):
        def __init__(self):
            super().__init__()
            self.linears = nn.ModuleList(
                [
                    nn.Linear(2, num_units),
                    nn.ReLU(),
                    nn.Linear(num_units, num_units),
                    nn.ReLU(),
                    nn.Linear(num_units, num_units),
                    nn.ReLU(),
                    nn.Linear(num_units, 2),
                ]
            )
            self.step_embeddings = nn.ModuleList(
                [nn.Embedding(num_steps, num_units) for _ in range(3)]
            )

        def forward(self, x, t):
            for idx, embedding_layer in enumerate(self.step_embeddings):
                x = self.linears[2 * idx](x)
                x = x + embedding_layer(t)
                x = self.linears[2 * idx + 1](x)
            return self.linears[-1](x)

    return MLPDiffusion()


def loss_fn(model, x_0, alphas_bar_sqrt, one_minus_alphas_bar_sqrt, n_steps):
    torch = _torch()
    batch_size = x_0.shape[0]
    t = torch.randint(0, n_steps, size=(batch_size // 2,))
    t = torch.cat([t, n_steps - 1 - t], dim=0).unsqueeze(-1)
    a, aml = alphas_bar_sqrt[t], one_minus_alphas_bar_sqrt[t]
    e = torch.randn_like(x_0)
    x = x_0 * a + e * aml
    return (e - model(x, t.squeeze(-1))).square().mean()


def train_steps_per_second(data, batch_size: int = 128, epochs: int = 3, num_steps: int = 100):
    """Steps/s of the seed's training loop (DataLoader, loss, backward, clip, Adam)."""
    torch = _torch()
    torch.manual_seed(0)
    dataset = torch.tensor(data, dtype=torch.float32)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True)
    model = make_model(num_steps)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    _, a, s = schedule(num_steps)

    def epoch():
        steps = 0
        for batch_x in loader:
            loss = loss_fn(model, batch_x, a, s, num_steps)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            steps += 1
        return steps

    epoch()  # warm-up
    rates = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        steps = epoch()
        rates.append(steps / (time.perf_counter() - t0))
    return max(rates)


def sample(model, n: int, num_steps: int = 100, inference_mode: bool = False):
    """The seed's ``p_sample_loop`` (final sample only)."""
    torch = _torch()
    betas, _, one_minus = schedule(num_steps)

    def loop():
        x = torch.randn(n, 2)
        for i in reversed(range(num_steps)):
            t = torch.tensor(i)
            coeff = betas[t] / one_minus[t]
            eps_theta = model(x, t)
            mean = (1 / (1 - betas[t]).sqrt()) * (x - coeff * eps_theta)
            x = mean + betas[t].sqrt() * torch.randn_like(x)
        return x

    if inference_mode:
        with torch.inference_mode():
            return loop()
    return loop()


def sample_seconds(n: int, num_steps: int = 100, repeats: int = 3, inference_mode=False) -> float:
    """Minimum wall time of the seed's sampler for ``n`` points."""
    torch = _torch()
    torch.manual_seed(0)
    model = make_model(num_steps)
    sample(model, min(n, 1000), num_steps, inference_mode)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        sample(model, n, num_steps, inference_mode)
        best = min(best, time.perf_counter() - t0)
    return best


def measure(kind: str, **kwargs) -> float | None:
    """Runs one measurement in a fresh Python process, so that no JAX thread pool shares
    the cores with PyTorch. ``kind`` is ``"train"`` (kwargs: batch_size) or ``"sample"``
    (kwargs: n, num_steps, inference_mode). None when torch is missing."""
    import json
    import subprocess
    import sys

    if not available():
        return None
    out = subprocess.run(
        [sys.executable, __file__, "--json", kind, json.dumps(kwargs)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _main():
    import json
    import sys

    if not available():
        raise SystemExit("torch is not installed: pip install -e '.[bench]'")
    from sklearn.datasets import make_s_curve

    if len(sys.argv) == 4 and sys.argv[1] == "--json":
        kind, kwargs = sys.argv[2], json.loads(sys.argv[3])
        if kind == "train":
            points, _ = make_s_curve(10**4, noise=0.1, random_state=0)
            value = train_steps_per_second(points[:, [0, 2]] / 10.0, **kwargs)
        else:
            value = sample_seconds(**kwargs)
        print(json.dumps(value))
        return
    torch = _torch()
    points, _ = make_s_curve(10**4, noise=0.1, random_state=0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"training, batch 128: {train_steps_per_second(points[:, [0, 2]] / 10):.0f} steps/s")
    print(f"sampling 10,000 x 100 steps: {sample_seconds(10_000):.3f} s")
    print(f"  same, inference_mode: {sample_seconds(10_000, inference_mode=True):.3f} s")


if __name__ == "__main__":
    _main()
