"""The progress bar of long commands, with rich (which ships with flax)."""

from __future__ import annotations

__all__ = ["Progress"]


class Progress:
    """A rich progress bar, or nothing when disabled.

    ``unit="epoch"``: epochs done of ``total``, the last loss, the learning rate, steps
    per second and the time left; any other unit (``"samples"``): a count of ``total``
    and the time left. Use as a context manager; :meth:`log` prints above the bar (or
    plainly without one).
    """

    def __init__(
        self,
        enabled: bool,
        total: int,
        start: int = 0,
        steps_per_epoch: int = 0,
        unit: str = "epoch",
    ):
        self.enabled, self.total, self.start = enabled, total, start
        self.steps_per_epoch, self.unit = steps_per_epoch, unit
        self.progress = None

    def __enter__(self):
        if not self.enabled:
            return self
        from rich import progress as rp

        if self.unit == "epoch":
            columns = (
                rp.TextColumn("epoch"),
                rp.MofNCompleteColumn(),
                rp.BarColumn(),
                rp.TextColumn("loss {task.fields[loss]}"),
                rp.TextColumn("lr {task.fields[lr]}"),
                rp.TextColumn("{task.fields[rate]} steps/s"),
            )
            fields = {"loss": "-", "lr": "-", "rate": "-"}
        else:
            columns = (rp.TextColumn(self.unit), rp.MofNCompleteColumn(), rp.BarColumn())
            fields = {}
        self.progress = rp.Progress(
            *columns, rp.TimeElapsedColumn(), rp.TextColumn("ETA"), rp.TimeRemainingColumn()
        )
        self.progress.__enter__()
        self.task = self.progress.add_task(
            self.unit, total=self.total, completed=self.start, **fields
        )
        return self

    def update(self, epoch: int, loss: float, epochs: int, seconds: float, lr: float) -> None:
        """Epoch ``epoch`` reached, ``epochs`` of them in ``seconds``, last loss ``loss``
        at learning rate ``lr``."""
        if self.progress is not None:
            rate = epochs * self.steps_per_epoch / max(seconds, 1e-9)
            self.progress.update(
                self.task,
                completed=epoch,
                loss=f"{loss:.5f}",
                lr=f"{lr:.3g}",
                rate=f"{rate:,.0f}",
            )

    def advance(self, amount: int) -> None:
        if self.progress is not None:
            self.progress.advance(self.task, amount)

    def log(self, text: str) -> None:
        if self.progress is not None:
            self.progress.console.print(text)
        else:
            print(text, flush=True)

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.__exit__(*exc)
        return False
