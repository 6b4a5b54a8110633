"""Our flow with OT pairs against the flow_matching library's own 2-D recipe (PyPI
``flow-matching``, facebookresearch/flow_matching, PyTorch), at equal evaluations.

The peer's recipe is its 2-D example's (an MLP of SiLU layers on the raw ``(x, t)``,
the CondOT path with independent pairs, ``t`` uniform, Adam 1e-3, its ``ODESolver``),
scaled to this CPU: 4 hidden layers of 256, batch 1024, 3,000 steps. It trains on
exactly our training rows (standardised per feature, as our recipes are) in its own
process, and is sampled by its solver with Euler and midpoint at 4 and 8 evaluations.
Ours: the ``default`` recipe with ``--objective flow --pairing ot --t-sampler
logit_normal``, sampled the same ways. Scores by ``runs.evaluate.quality`` against fresh
data (10,000 samples).

Usage: python benchmarks/flow_peer.py [--only NAME,...]      (the table)
       python benchmarks/flow_peer.py --rows R.npy --out S     (the peer alone: S_<label>.npy)

``pip install -e '.[bench]' flow-matching`` (torch, torchdiffeq).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time

import numpy as np

# The peer's samplers when run alone (benchmarks/_flows.py's PEER_SAMPLERS pass their own).
SAMPLERS = "euler:4,euler:8,midpoint:2,midpoint:4"
HIDDEN, LAYERS, BATCH, STEPS = 256, 4, 1024, 3000


def peer(rows_path: str, out: str, samplers: str = SAMPLERS, seed: int = 0) -> None:
    """Trains the peer on the rows and writes its samples for each of ``samplers``
    (``method:steps``, comma-separated)."""
    import torch
    from flow_matching.path import CondOTProbPath
    from flow_matching.solver import ODESolver
    from flow_matching.utils import ModelWrapper

    torch.manual_seed(seed)
    rows = np.load(rows_path).astype(np.float32)
    mean, std = rows.mean(0), rows.std(0)
    x = torch.from_numpy((rows - mean) / std)
    dim = x.shape[1]
    layers = [torch.nn.Linear(dim + 1, HIDDEN), torch.nn.SiLU()]
    for _ in range(LAYERS - 1):
        layers += [torch.nn.Linear(HIDDEN, HIDDEN), torch.nn.SiLU()]
    net = torch.nn.Sequential(*layers, torch.nn.Linear(HIDDEN, dim))
    path = CondOTProbPath()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    for _ in range(STEPS):
        x1 = x[torch.randint(0, x.shape[0], (BATCH,))]
        x0 = torch.randn_like(x1)
        t = torch.rand(BATCH)
        sample = path.sample(t=t, x_0=x0, x_1=x1)
        pred = net(torch.cat([sample.x_t, sample.t[:, None]], dim=-1))
        loss = torch.pow(pred - sample.dx_t, 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    train_seconds = time.perf_counter() - t0

    class Wrapped(ModelWrapper):
        def forward(self, x, t, **extras):
            return self.model(torch.cat([x, t.reshape(1, 1).expand(x.shape[0], 1)], dim=-1))

    solver = ODESolver(velocity_model=Wrapped(net))
    info = {"train_seconds": train_seconds, "params": sum(p.numel() for p in net.parameters())}
    for method, steps in (item.split(":") for item in samplers.split(",")):
        steps = int(steps)
        noise = torch.randn(10_000, dim)
        with torch.no_grad():
            z = solver.sample(x_init=noise, step_size=1.0 / steps, method=method)
        np.save(f"{out}_{method}{steps}.npy", z.numpy() * std + mean)
    pathlib.Path(f"{out}.json").write_text(json.dumps(info))


def table_rows(names, eval_n):
    from _common import model_rows, reference_row, trained_default
    from _flows import peer_rows, peer_samplers

    rows = []
    for name in names:
        ref, floor = reference_row(name, name, eval_n)
        rows.append(ref)
        settings = {"objective": "flow", "pairing": "ot", "t_sampler": "logit_normal"}
        s, params, info = trained_default(name, **settings)
        seconds = info["train_seconds"]
        chosen = peer_samplers()
        rows += model_rows(s, params, name, "flow ot (ours)", seconds, chosen, eval_n, ref, floor)
        rows += peer_rows(s, name, eval_n, ref, floor)
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", default=None, help="peer alone: train on these rows")
    p.add_argument("--out", default=None, help="peer alone: prefix of its outputs")
    p.add_argument("--samplers", default=SAMPLERS, help="peer alone: method:steps, ...")
    p.add_argument("--only", default=None, help="comma-separated data sets")
    p.add_argument("--eval-n", type=int, default=10_000)
    p.add_argument("--results-dir", default=None)
    args = p.parse_args()
    if args.rows:
        peer(args.rows, args.out, args.samplers)
        return
    from _common import MODEL_COLUMNS, SETS, cpu_model, save, table

    names = args.only.split(",") if args.only else list(SETS)
    rows = table_rows(names, args.eval_n)
    columns = [*MODEL_COLUMNS, ("within", "within", "")]
    print(f"\n{cpu_model()}, eval n = {args.eval_n}")
    print(table(rows, columns))
    section = "flow_peer" + ("_" + "_".join(names) if args.only else "")
    print(f"wrote {save(section, {'eval_n': args.eval_n, 'rows': rows}, args.results_dir)}")


# --- the page blocks of docs/results-flows.md (benchmarks/summarize.py) -------------------


def blocks(doc: dict, section: str) -> dict:
    """Ours against the peer at 4 and 8 evaluations, and the findings."""
    from _common import cells, listed, span  # here: the peer's process never imports JAX
    from _flows import by_set, cell, marked, measured

    sec = doc[section]
    sets = list(by_set(sec["rows"]))

    def low(group, k):  # the better of Euler and midpoint at k evaluations, by MMD²
        return min((r for r in group if r["evals"] == k), key=lambda r: r["mmd2"])

    rows = []
    for name, ref, m in sets:
        ours, theirs = m["flow ot (ours)"], m["flow_matching peer"]
        secs = f"{ours[0]['train_seconds']:.1f} / {theirs[0]['train_seconds']:.1f}"
        shown = (marked(low(g, k)) for k in (4, 8) for g in (ours, theirs))
        rows.append([name, cell(ref), *shown, secs])
    heads = ["data", "DDPM ancestral 100", "ours, 4", "peer, 4", "ours, 8", "peer, 8",
             "train s: ours / peer"]  # fmt: skip
    text = (
        f"{measured(doc, sec)}, one run of `python benchmarks/flow_peer.py`; cells as above "
        "(the better of Euler and midpoint at each budget, by MMD²), ✓ within the DDPM's "
        "bounds; train seconds without compilation."
    )
    notes = []
    for k in (4, 8):
        ours = {name: low(m["flow ot (ours)"], k) for name, _, m in sets}
        peer = {name: low(m["flow_matching peer"], k) for name, _, m in sets}
        p_win = [s for s in ours if ours[s]["precision"] > peer[s]["precision"]]
        m_win = [s for s in ours if ours[s]["mmd2"] < peer[s]["mmd2"]]
        r_lose = [s for s in ours if round(peer[s]["recall"], 3) > round(ours[s]["recall"], 3)]
        notes.append(
            f"At {k} evaluations ours has the higher precision on {len(p_win)} of "
            f"{len(sets)} sets and the lower MMD² on {len(m_win)}; the peer's precision is "
            f"{span([r['precision'] for r in peer.values()], '.2f', ' to ')}, its recall higher on "
            f"{len(r_lose)} ({listed(r_lose)})."
        )
    time_ = [m["flow ot (ours)"][0]["train_seconds"] / m["flow_matching peer"][0]["train_seconds"]
             for _, _, m in sets]  # fmt: skip
    notes.append(f"Our training takes {span(time_, '.2f', ' to ')} of the peer's time.")
    return {"peer-table": cells(heads, rows, text=text), "peer-findings": {"notes": notes}}


if __name__ == "__main__":
    main()
