"""Faults injected into real processes: a second training of a held run, sampling while a
training writes, SIGTERM, and a file-size limit that makes checkpoint writes fail.

Each test runs ``jaxdiff`` in subprocesses (real signals, real locks, real write errors),
so they take tens of seconds: marked ``slow`` (``pytest -m slow``; ``.ci/run`` runs them).
"""

import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import ENV, jaxdiff, leaves_equal

from jaxdiff.runs import checkpoints, setup

pytestmark = pytest.mark.slow

# The seed's network on a cosine schedule (no schedule warning on stderr), fast epochs.
TRAIN = ["train", "--preset", "seed", "--schedule", "cosine", "--eval-n", "0", "--no-figures"]


def _start(*args, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-m", "jaxdiff.cli", *TRAIN, "--quiet", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        **kwargs,
    )


def _wait_for(predicate, proc, timeout=120):
    start = time.monotonic()
    while not predicate():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - start < timeout
        time.sleep(0.05)


def _epochs_logged(run_dir):
    path = run_dir / "metrics.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_one_writer_per_run_and_readers_during_training(tmp_path):
    run = tmp_path / "r"
    proc = _start("--out", run, "--epochs", "400", "--checkpoint-every", "5")
    try:
        _wait_for(lambda: checkpoints.latest_epoch(run / "checkpoints"), proc)
        pid = str(proc.pid)
        for extra in ([], ["--resume"]):
            second = jaxdiff(*TRAIN, "--out", run, "--epochs", "400", *extra, check=False)
            assert second.returncode == 2, second.stderr
            assert f"is being trained by process {pid}" in second.stderr
            assert second.stderr.strip().count("\n") == 0
        # Readers take the newest complete checkpoint while the trainer keeps writing
        # (and deleting the oldest): every call succeeds.
        epochs = set()
        while proc.poll() is None and len(epochs) < 4:
            out = tmp_path / "s.npy"
            r = jaxdiff("sample", "--run", run, "--out", out, "--n", "32", "--quiet")
            assert r.returncode == 0 and np.load(out).shape == (32, 2)
            _, state = setup.restore(run)
            epochs.add(int(state.epoch))
        assert len(epochs) >= 2, epochs
    finally:
        proc.kill()
        proc.communicate()
    # The holder is dead (SIGKILL: no cleanup at all); its pid is still in the lock file,
    # and the lock is taken over.
    assert (run / ".lock").read_text().strip() == pid
    jaxdiff(*TRAIN, "--out", run, "--epochs", "400", "--resume", "--quiet")
    assert (run / ".lock").read_text().strip() != pid


def test_sigterm_checkpoints_and_resume_is_exact(tmp_path):
    run, whole = tmp_path / "r", tmp_path / "whole"
    epochs, every = 160, 1000
    proc = _start("--out", run, "--epochs", epochs, "--checkpoint-every", every)
    _wait_for(lambda: _epochs_logged(run) >= 25, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert err.strip().splitlines() == [
        "jaxdiff train: terminated (SIGTERM); the last "
        "completed epochs are checkpointed, rerun with "
        "--resume to continue"
    ], err
    # With a checkpoint every 1000 epochs none is periodic: the one kept is the SIGTERM
    # handler's, and it holds the newest epoch the run recorded (an older chunk's state,
    # or none, fails).
    kept = checkpoints.latest_epoch(run / "checkpoints")
    assert kept is not None and 25 <= kept < epochs and kept == _epochs_logged(run)

    jaxdiff(*TRAIN, "--out", run, "--epochs", epochs, "--resume", "--quiet")
    jaxdiff(*TRAIN, "--out", whole, "--epochs", epochs, "--quiet")
    (_, a), (_, b) = setup.restore(run), setup.restore(whole)
    assert int(a.epoch) == int(b.epoch) == epochs
    assert leaves_equal(a.params, b.params) and leaves_equal(a.opt_state, b.opt_state)


# Runs jaxdiff under a file-size limit, set in the child itself (no fork of this
# multithreaded process): a write past the limit fails with EFBIG, SIGXFSZ ignored.
LIMITED = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]),) * 2)
from jaxdiff.cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_failed_checkpoint_write_keeps_the_last_one_and_resume_works(tmp_path):
    run = tmp_path / "r"
    jaxdiff(*TRAIN, "--out", run, "--epochs", "20", "--checkpoint-every", "10", "--quiet")
    before = checkpoints.inspect(run / "checkpoints")
    assert [e for e, _, _ in before] == [20, 10]

    # A file-size limit of 20 kB: the next checkpoint's array file cannot be written.
    # (No compilation cache: its writes would fail too, with a warning of their own.)
    args = [*TRAIN, "--quiet", "--out", str(run), "--epochs", "40", "--checkpoint-every", "10"]
    proc = subprocess.run(
        [sys.executable, "-c", LIMITED, "20000", *args, "--resume"],
        capture_output=True,
        text=True,
        env={**ENV, "JAXDIFF_CACHE_DIR": "off"},
    )
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    assert line.startswith("jaxdiff train: error: cannot write the checkpoint of epoch 30")
    assert "the earlier checkpoints are intact" in line
    assert checkpoints.inspect(run / "checkpoints") == before

    # The cause gone, --resume continues from epoch 20.
    jaxdiff(*TRAIN, "--out", run, "--epochs", "40", "--checkpoint-every", "10", "--resume")
    assert [st for _, st, _ in checkpoints.inspect(run / "checkpoints")] == ["intact"] * 3
    assert checkpoints.latest_epoch(run / "checkpoints") == 40
