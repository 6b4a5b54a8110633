"""The progress bar: silent but for log lines when disabled, a rich bar when enabled."""

from jaxdiff.runs.progress import Progress


def test_disabled_bar_prints_only_log_lines(capsys):
    with Progress(False, total=10) as bar:
        bar.update(3, 0.5, 3, 1.0, 1e-3)
        bar.advance(2)
        bar.log("epoch 3")
    assert capsys.readouterr().out == "epoch 3\n"


def test_enabled_bar_counts_to_its_total():
    with Progress(True, total=10, unit="samples") as bar:
        bar.advance(4)
        bar.advance(6)
        assert bar.progress.tasks[0].completed == 10
    with Progress(True, total=5, start=2, steps_per_epoch=10) as bar:
        bar.update(5, 0.25, 3, 0.5, 0.00125)
        task = bar.progress.tasks[0]
        assert task.completed == 5 and task.fields["rate"] == "60"
        assert task.fields["lr"] == "0.00125"
