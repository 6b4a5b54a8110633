"""A real multi-process run: two processes on 127.0.0.1 (gloo CPU collectives, one device
each) train with ``--distributed``; the result equals one process with two devices and
the same global batch; only process 0 writes the run's files (every rename of the other
process is recorded); ``--resume`` works for the pair. Marked ``slow``."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
from conftest import ENV

from jaxdiff.runs import checkpoints

pytestmark = pytest.mark.slow

# Runs the CLI with every os.replace / os.rename of this process recorded in a file.
RECORDED = """
import json, os, sys
log, argv = sys.argv[1], sys.argv[2:]
seen = []
for name in ("replace", "rename"):
    original = getattr(os, name)
    def wrapped(src, dst, *a, _original=original, **k):
        seen.append(os.fspath(dst))
        return _original(src, dst, *a, **k)
    setattr(os, name, wrapped)
from jaxdiff.cli import main
code = main(argv)
open(log, "w").write(json.dumps(seen))
sys.exit(code)
"""

DEVICES = "--xla_force_host_platform_device_count"
TRAIN = ["train", "--preset", "seed", "--schedule", "cosine", "--eval-n", "0"]
TRAIN += ["--no-figures", "--quiet", "--checkpoint-every", "2"]


def _port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pair(tmp_path, run, epochs, *extra):
    port, procs = _port(), []
    env = {
        **ENV,
        "JAXDIFF_CACHE_DIR": "off",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=1",
    }
    for i in range(2):
        log = tmp_path / f"renames{i}.json"
        args = [*TRAIN, "--out", str(run), "--epochs", str(epochs), "--devices", "2", *extra]
        args += ["--distributed", f"127.0.0.1:{port},2,{i}"]
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", RECORDED, str(log), *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
        )
    for p in procs:
        _, err = p.communicate(timeout=400)
        assert p.returncode == 0, err[-3000:]
    return [json.loads((tmp_path / f"renames{i}.json").read_text()) for i in range(2)]


def test_two_processes_equal_one_and_only_process_0_writes(tmp_path):
    run, single = tmp_path / "pair", tmp_path / "single"
    renames = _pair(tmp_path, run, 4)
    outside = [p for p in renames[1] if "checkpoints" not in p and str(run) in p]
    assert outside == [], outside  # process 1 wrote none of the run's own files
    assert any(p.endswith("samples.npy") for p in renames[0])
    assert (run / ".lock").read_text().strip().isdigit()

    env = {
        **ENV,
        "JAXDIFF_CACHE_DIR": "off",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
    }
    one = subprocess.run(
        [sys.executable, "-m", "jaxdiff.cli", *TRAIN, "--out", str(single), "--epochs", "4",
         "--devices", "2"],
        capture_output=True, text=True, env=env, timeout=400,
    )  # fmt: skip
    assert one.returncode == 0, one.stderr
    np.testing.assert_allclose(
        np.load(run / "samples.npy"), np.load(single / "samples.npy"), atol=1e-5
    )
    assert [st for _, st, _ in checkpoints.inspect(run / "checkpoints")] == ["intact"] * 2

    # --resume for the pair: both processes restore epoch 4 and train on to 6.
    _pair(tmp_path, run, 6, "--resume")
    assert checkpoints.latest_epoch(run / "checkpoints") == 6
    metrics = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(m)["epoch"] for m in metrics] == [1, 2, 3, 4, 5, 6]
    assert os.path.getsize(run / "samples.npy") > 0
