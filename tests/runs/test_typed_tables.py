"""A run of a typed table: a CSV of categories, integers, booleans and numbers trains,
keeps its encoder, and samples a CSV with the same header and types."""

import csv
import json

import numpy as np
import pandas as pd
from conftest import jaxdiff as run_cli

import jaxdiff

FREQUENCIES = {"a": 0.6, "b": 0.3, "c": 0.1}


def _mixed(path, n=400, seed=0):
    rng = np.random.default_rng(seed)
    kind = rng.choice(list(FREQUENCIES), size=n, p=list(FREQUENCIES.values()))
    rooms = rng.integers(1, 6, size=n)
    garden = rng.random(n) < 0.3
    price = 100.0 * (kind == "a") + 10.0 * rooms + rng.normal(size=n)
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["kind", "rooms", "garden", "price"])
        for row in zip(kind, rooms, garden, price, strict=True):
            out.writerow([row[0], row[1], "true" if row[2] else "false", f"{row[3]:.3f}"])
    return path


def _total_variation(values, reference) -> float:
    keys = set(values) | set(reference)
    p = {k: np.mean(np.asarray(values) == k) for k in keys}
    q = {k: np.mean(np.asarray(reference) == k) for k in keys}
    return 0.5 * sum(abs(p[k] - q[k]) for k in keys)


def test_a_typed_table_trains_and_samples_a_csv_of_its_own_types(tmp_path):
    """Every sampled category is one of the column's, integers are integers within their
    range, booleans are true/false, and the category frequencies are within total
    variation 0.05 of the training rows' (a sampler of uniform categories is not: 0.27)."""
    data = _mixed(tmp_path / "homes.csv")
    out = tmp_path / "r"
    result = run_cli(
        "train", "--data", data, "--out", out, "--quiet", "--no-figures", "--eval-n", "0"
    )
    assert "sized for 320 rows x 6 columns" in result.stdout  # one-hot kind: 3 coordinates
    encoder = json.loads((out / "encoder.json").read_text())
    assert [c["kind"] for c in encoder["columns"]] == ["category", "integer", "boolean", "number"]
    synth = tmp_path / "synth.csv"
    run_cli("sample", "--run", out, "--out", synth, "--n", "4000", "--quiet")
    with open(synth, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["kind", "rooms", "garden", "price"] and len(rows) == 4001
    kind, rooms, garden, price = zip(*rows[1:], strict=True)
    assert set(kind) <= set(FREQUENCIES)
    assert all(r.isdigit() and 1 <= int(r) <= 5 for r in rooms)
    assert set(garden) <= {"true", "false"}
    training = pd.read_csv(data)["kind"].tolist()
    assert _total_variation(kind, training) < 0.05
    uniform = np.random.default_rng(1).choice(list(FREQUENCIES), size=4000)
    assert _total_variation(uniform, training) > 0.05
    # Conditional on its category, a price keeps the column's relation (a is 100 dearer).
    prices = np.array(price, float)
    is_a = np.array(kind) == "a"
    assert prices[is_a].mean() - prices[~is_a].mean() > 70
    # The run loads, evaluates and resumes from its own encoded copy.
    assert run_cli("eval", "--run", out, "--n", "80", "--likelihood-n", "0").returncode == 0
    model = jaxdiff.load(out)
    assert model.encoder is not None and set(model.sample_table(50, seed=0)) == set(
        encoder_names(out)
    )


def encoder_names(run) -> list[str]:
    return [c["name"] for c in json.loads((run / "encoder.json").read_text())["columns"]]


def test_fit_takes_a_dataframe_of_mixed_types(tmp_path):
    frame = pd.read_csv(_mixed(tmp_path / "homes.csv", n=120))
    model = jaxdiff.fit(frame, epochs=2, width=16)
    table = model.sample_table(30, seed=0)
    assert list(table) == ["kind", "rooms", "garden", "price"]
    assert table["rooms"].dtype == np.int64 and table["garden"].dtype == bool
    assert set(table["kind"]) <= set(FREQUENCIES)
    saved = model.save(tmp_path / "m")
    again = jaxdiff.load(saved).sample_table(30, seed=0)
    assert again["kind"].tolist() == table["kind"].tolist()
