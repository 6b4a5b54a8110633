"""Filling gaps in real tables by ForestDiffusion's imputation protocol
(Jolicoeur-Martineau et al., AISTATS 2024, arXiv:2309.09968, §4.2 and its repository's
metrics): jaxdiff beside sklearn's imputers and, where installed, ForestDiffusion's own.

Per set (the tables of benchmarks/tables.py that hold numbers only; its features, the
class or target left out) and per stratified 80/20 split: 20% of the training split's
cells removed completely at random (each cell alone, seeded by the split), and every
imputer fills them from the training split with its gaps, nothing else. Scored in the
min-max units of the complete training split:

- RMSE and MAE of the filled cells against the values removed, for one filling (the
  mean over ``--draws`` fillings of a stochastic imputer) and, for a stochastic imputer,
  of the mean of its fillings (multiple imputation's point estimate);
- W1 (exact optimal transport, L1 cost) of the completed training split to the test
  split; the ``oracle`` row is the complete training split itself;
- seconds to fit and fill, once (compilation included for jaxdiff).

Imputers: ``mean`` (sklearn's SimpleImputer), ``knn`` (KNNImputer, its defaults),
``iterative`` (IterativeImputer, its defaults: Bayesian ridge, 10 rounds), ``jaxdiff``
(below), ``forestdiffusion`` (ForestDiffusionModel with its defaults and
``diffusion_type="vp"``, the kind that imputes, then its ``impute``).

jaxdiff's model cannot train on cells it lacks, so it learns the table in ``--rounds``
rounds: the gaps first filled each by a random known value of its column, then each round
``jaxdiff.fit`` on the table so completed and ``TrainedModel.impute`` (RePaint, the known
cells kept) fills the gaps again from the original table. The last round's model makes
the ``--draws`` fillings.

``jaxdiff-masks`` is the other way the issue names: a model trained with random masks
(a context model of ``p(x | x ⊙ m, m)``, ``jaxdiff.fit(x, context=...)``): each round the
completed table is repeated ``MASK_COPIES`` times, each copy's known cells hidden at
random at the protocol's rate (its gaps hidden always), and the model fills each row's
gaps by sampling given its own known cells and mask; the rounds as for ``jaxdiff``.

Usage: python benchmarks/impute.py [--sets iris,wine] [--splits 3] [--draws 10]
       [--imputers oracle,mean,knn,iterative,jaxdiff,jaxdiff-masks,forestdiffusion]
       [--rounds 3] [--append] [--untimed]
"""

from __future__ import annotations

import argparse
import time
import warnings

import _common
import numpy as np
from _tables import load, splits, w1
from sklearn import impute
from sklearn.experimental import enable_iterative_imputer  # noqa: F401 (its import enables it)

import jaxdiff

SETS = ("iris", "wine", "breast_cancer", "diabetes")
IMPUTERS = ("oracle", "mean", "knn", "iterative", "jaxdiff", "jaxdiff-masks", "forestdiffusion")
MISSING = 0.2  # the protocol's share of cells removed
MASK_COPIES = 8  # jaxdiff-masks: masked copies of each row a round trains on


def remove_cells(x: np.ndarray, seed: int) -> np.ndarray:
    """``x`` with each cell removed (NaN) with probability :data:`MISSING`."""
    gaps = np.random.default_rng(seed).random(x.shape) < MISSING
    return np.where(gaps, np.nan, x)


def hot_deck(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each gap of ``x`` filled by a known value of its column drawn at random."""
    out = x.copy()
    for j in range(x.shape[1]):
        gaps = np.isnan(x[:, j])
        out[gaps, j] = rng.choice(x[~gaps, j], size=gaps.sum())
    return out


def rounds_fill(x, draws: int, rounds: int, seed: int, fill_round) -> list[np.ndarray]:
    """The rounds both jaxdiff imputers learn in: the gaps first hot-decked, then each round
    ``fill_round(completed, count, r, rng)`` returns ``count`` fillings of ``x``'s gaps
    (``draws`` in the last round, one before), the first of which completes the next."""
    rng = np.random.default_rng(seed)
    filled = hot_deck(x, rng)
    for r in range(rounds):
        fills = fill_round(filled, draws if r == rounds - 1 else 1, r, rng)
        filled = fills[0]
    return fills


def jaxdiff_fill(x, draws: int, rounds: int, seed: int, settings: dict) -> list[np.ndarray]:
    """``draws`` fillings of ``x``'s gaps by jaxdiff, learnt in ``rounds`` rounds (the
    module's docstring)."""

    def fill_round(filled, count, r, rng):
        model = jaxdiff.fit(filled.astype(np.float32), seed=seed, **settings)
        # the rows repeated: one call draws them all
        return np.split(model.impute(np.tile(x, (count, 1)), seed=r), count)

    return rounds_fill(x, draws, rounds, seed, fill_round)


def masked(x, known) -> np.ndarray:
    """The context of rows ``x`` whose cells ``known`` are given: ``(x ⊙ m, m)``."""
    return np.concatenate([np.where(known, x, 0.0), known], axis=1).astype(np.float32)


def masks_model(rows, known, rng, seed: int, settings: dict):
    """A context model of ``p(x | x ⊙ m, m)`` on ``MASK_COPIES`` copies of ``rows``, each
    copy's ``known`` cells hidden at random at the protocol's rate (the others always)."""
    copies = np.tile(rows, (MASK_COPIES, 1))
    given = np.tile(known, (MASK_COPIES, 1)) & (rng.random(copies.shape) >= MISSING)
    return jaxdiff.fit(copies.astype(np.float32), context=masked(copies, given), seed=seed,
                       **settings)  # fmt: skip


def masks_fill(x, draws: int, rounds: int, seed: int, settings: dict) -> list[np.ndarray]:
    """``draws`` fillings of ``x``'s gaps by a model trained with random masks (the
    module's docstring)."""
    known = ~np.isnan(x)

    def fill_round(filled, count, r, rng):
        model = masks_model(filled, known, rng, seed, settings)
        z = model.sample(count, context=masked(x, known), seed=r)  # (n, count, D)
        return [np.where(known, x, z[:, i]) for i in range(count)]

    return rounds_fill(x, draws, rounds, seed, fill_round)


def gaussian_check(seed: int = 0, rows: int = 2000, draws: int = 4000) -> list[dict]:
    """The two ways on data with a closed-form conditional and no gaps in training: rows
    of ``N(0, [[1, ρ], [ρ, 1]])``, ρ = 0.9, and ``draws`` fillings of ``x₂`` given
    ``x₁ = 1.2`` (the conditional ``N(1.2ρ, 1 - ρ²)``): the mean's error in conditional
    standard deviations and the variance's ratio to the exact one."""
    rng = np.random.default_rng(seed)
    rho, given = 0.9, 1.2
    x = rng.multivariate_normal([0.0, 0.0], [[1.0, rho], [rho, 1.0]], rows).astype(np.float32)
    query = np.tile([given, np.nan], (draws, 1))
    known = ~np.isnan(query)
    repaint = jaxdiff.fit(x, seed=seed).impute(query, seed=1)[:, 1]
    model = masks_model(x, np.ones(x.shape, bool), rng, seed, {})
    masks = model.sample(draws, context=masked(query[:1], known[:1]), seed=1)[0, :, 1]
    sd = np.sqrt(1.0 - rho**2)
    return [
        {"imputer": name, "mean_error_sd": float((z.mean() - rho * given) / sd),
         "variance_ratio": float(z.var() / sd**2)}
        for name, z in (("jaxdiff", repaint), ("jaxdiff-masks", masks))
    ]  # fmt: skip


def forestdiffusion_fill(x, draws: int, seed: int) -> list[np.ndarray]:
    from ForestDiffusion import ForestDiffusionModel

    model = ForestDiffusionModel(x, diffusion_type="vp", n_jobs=-1, seed=seed)
    out = model.impute(k=draws)
    return [out] if draws == 1 else list(out)


def fill(name: str, x, draws: int, rounds: int, seed: int, settings: dict) -> list[np.ndarray]:
    """The fillings of ``x``'s gaps by imputer ``name`` (one for a deterministic one)."""
    if name == "jaxdiff":
        return jaxdiff_fill(x, draws, rounds, seed, settings)
    if name == "jaxdiff-masks":
        return masks_fill(x, draws, rounds, seed, settings)
    if name == "forestdiffusion":
        return forestdiffusion_fill(x, draws, seed)
    model = {
        "mean": lambda: impute.SimpleImputer(),
        "knn": lambda: impute.KNNImputer(),
        "iterative": lambda: impute.IterativeImputer(random_state=seed),
    }[name]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # IterativeImputer's early-stopping notice
        return [model.fit_transform(x)]


def score(truth, gaps, fillings, test) -> dict:
    """The protocol's scores of ``fillings`` of the cells ``gaps`` of ``truth``, in the
    min-max units of ``truth`` (the complete training split)."""
    low, span = truth.min(0), np.ptp(truth, 0)
    span = np.where(span > 0, span, 1.0)
    unit = lambda z: (z - low) / span  # noqa: E731

    def errors(z):
        e = (unit(z) - unit(truth))[gaps]
        return float(np.sqrt(np.mean(e**2))), float(np.mean(np.abs(e)))

    each = [errors(z) for z in fillings]
    pooled = errors(np.mean(fillings, axis=0))
    return {
        "rmse": float(np.mean([e[0] for e in each])),
        "mae": float(np.mean([e[1] for e in each])),
        "rmse_pooled": pooled[0],
        "mae_pooled": pooled[1],
        "w1_test": float(np.mean([w1(unit(z), unit(test)) for z in fillings])),
    }


def run_set(name: str, imputers, n_splits, draws, rounds, settings, timed=True) -> list:
    x, y, classifier = load(name)
    rows = []
    for split, (tr, te) in enumerate(splits(y, classifier, n_splits)):
        truth, test = x[tr], x[te]
        holed = remove_cells(truth, seed=split)
        gaps = np.isnan(holed)
        for imputer in imputers:
            t0 = time.perf_counter()
            if imputer == "oracle":
                fillings, seconds = [truth], None
            else:
                fillings = fill(imputer, holed, draws, rounds, split, settings)
                seconds = time.perf_counter() - t0 if timed else None
            # ForestDiffusion's min-max round trip moves known cells in their last bit
            kept = (np.allclose(z[~gaps], truth[~gaps], rtol=1e-12, atol=0) for z in fillings)
            assert all(kept), f"{imputer} changed a known cell"
            rows.append(
                {"set": name, "imputer": imputer, "split": split, "draws": len(fillings),
                 "seconds": seconds, **score(truth, gaps, fillings, test)}
            )  # fmt: skip
    return rows


COLUMNS = [
    ("set", "set", ""), ("imputer", "imputer", ""), ("draws", "draws", "{}"),
    ("rmse", "RMSE", "{:.4f}"), ("mae", "MAE", "{:.4f}"),
    ("rmse_pooled", "RMSE of the mean", "{:.4f}"), ("mae_pooled", "MAE of the mean", "{:.4f}"),
    ("w1_test", "W1 test", "{:.3f}"), ("seconds", "seconds", "{:.1f}"),
]  # fmt: skip


def summary(rows: list[dict]) -> list[dict]:
    """Means over the splits, per set and imputer."""
    out = []
    keys = sorted(
        dict.fromkeys((r["set"], r["imputer"]) for r in rows),
        key=lambda k: (SETS.index(k[0]) if k[0] in SETS else len(SETS), IMPUTERS.index(k[1])),
    )
    for key in keys:
        mine = [r for r in rows if (r["set"], r["imputer"]) == key]
        row = {"set": key[0], "imputer": key[1], "draws": mine[0]["draws"]}
        for c, *_ in COLUMNS[3:]:
            values = [r[c] for r in mine if r[c] is not None]
            row[c] = float(np.mean(values)) if values else None
        out.append(row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--imputers", default="oracle,mean,knn,iterative,jaxdiff")
    ap.add_argument("--splits", type=int, default=3)
    ap.add_argument("--draws", type=int, default=10, help="fillings of a stochastic imputer")
    ap.add_argument("--rounds", type=int, default=3, help="jaxdiff's rounds of fit and fill")
    ap.add_argument("--settings", default=None, help="jaxdiff.fit settings, K=V,...")
    ap.add_argument("--section", default="impute")
    ap.add_argument("--no-save", action="store_true")
    ap.add_argument("--append", action="store_true", help="keep the section's other rows")
    ap.add_argument("--untimed", action="store_true",
                    help="record no seconds (another job shares the CPU)")  # fmt: skip
    ap.add_argument("--gaussian", action="store_true",
                    help="only the two jaxdiff ways on Gaussian rows (gaussian_check)")  # fmt: skip
    args = ap.parse_args()
    if args.gaussian:
        rows = gaussian_check()
        columns = [("imputer", "imputer", ""), ("mean_error_sd", "mean error (sd)", "{:+.3f}"),
                   ("variance_ratio", "variance / exact", "{:.3f}")]  # fmt: skip
        print(_common.table(rows, columns))
        if not args.no_save:
            _common.save("impute_gaussian", {"columns": columns, "summary": rows})
        return
    imputers = args.imputers.split(",")
    unknown = sorted(set(imputers) - set(IMPUTERS))
    if unknown:
        raise SystemExit(f"--imputers: unknown {unknown}; known {list(IMPUTERS)}")
    settings = _common.parse_settings(args.settings)
    rows = []
    if args.append:  # keep the section's rows of other sets or imputers
        old = _common.saved(args.section)
        ran = set(args.sets.split(",")), set(imputers)
        rows = [
            r for r in old.get("rows", []) if not (r["set"] in ran[0] and r["imputer"] in ran[1])
        ]
    for name in args.sets.split(","):
        rows += run_set(name, imputers, args.splits, args.draws, args.rounds, settings,
                        timed=not args.untimed)  # fmt: skip
        print(_common.table([r for r in summary(rows) if r["set"] == name], COLUMNS))
        if not args.no_save:
            ran = {"splits": args.splits, "draws": args.draws, "rounds": args.rounds}
            if settings:
                ran["settings"] = settings
            payload = {"ran": ran, "columns": COLUMNS, "summary": summary(rows)}
            _common.save(args.section, {**payload, "rows": rows})


if __name__ == "__main__":
    main()
