"""Class-conditional generation from a labelled CSV file: train, then sample each class by
its name, with classifier-free guidance.

    python examples/conditional_file.py [--quick]

Writes ``labelled.csv`` (the two moons with a header row ``x,y,moon`` and the class as a
word), trains the `default` recipe on it as ``jaxdiff train --data labelled.csv
--conditional --label-column moon`` would (run directory ``labelled-run/``), loads the
run and draws 1,000 points of each class by name, unguided (the run's guidance weight, 0)
and with guidance weight 2 (Ho & Salimans 2022, eq. 6), and saves the guided ones as
``class_<name>.npy``. It prints each class's mean beside the
data's mean of that class.
"""

import argparse
import shutil

import numpy as np

import jaxdiff
from jaxdiff.runs import overrides, presets, train


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="30 epochs instead of 120")
    args = p.parse_args()
    epochs = 30 if args.quick else 120

    x, y = jaxdiff.core.data.moons(0, 4000, labels=True)
    names = np.array(["upper", "lower"])[np.asarray(y)]
    with open("labelled.csv", "w") as f:
        f.write("x,y,moon\n")
        for (a, b), name in zip(np.asarray(x), names, strict=True):
            f.write(f"{a:.6f},{b:.6f},{name}\n")

    cfg = overrides.configure(
        presets.preset("default"),
        data="labelled.csv",
        conditional=True,
        label_column="moon",
        epochs=epochs,
    )
    shutil.rmtree("labelled-run", ignore_errors=True)
    train.train_run(cfg, "labelled-run", progress=False, eval_n=0, figures=False)

    model = jaxdiff.load("labelled-run")
    print(f"classes: {model.label_names}")
    for name in model.label_names:
        plain = model.sample(1000, seed=0, label=name)
        guided = model.sample(1000, seed=0, label=name, guidance=2.0)
        np.save(f"class_{name}.npy", guided)
        want = np.asarray(x)[names == name].mean(0)
        print(
            f"{name}: mean {plain.mean(0).round(2)} unguided, {guided.mean(0).round(2)} "
            f"guided (w = 2), data {want.round(2)}"
        )


if __name__ == "__main__":
    main()
