"""Progress callbacks of long cfx calls (training, explaining batches), shared by both."""

from __future__ import annotations

import json
import sys
from typing import Any, Callable, Optional, Sequence, Union

from ._lib import PROGRESS_FN
from .errors import InvalidArgumentError

Progress = Union[None, bool, Callable[[dict], Any]]


class _Bar:
    """A one-line progress display: tqdm when it is installed, else a line on stderr."""

    def __init__(self, total: int, unit: str, position: str, shown: Sequence[str]):
        self._unit, self._position, self._shown, self._total = unit, position, shown, total
        self._done = 0
        try:
            from tqdm import tqdm  # type: ignore
            self._tqdm = tqdm(total=total, unit=unit, leave=True)
        except ImportError:
            self._tqdm = None

    def __call__(self, report: dict) -> None:
        if report.get("in_progress"):  # a report during a training epoch: the bar moves per epoch
            return
        done = int(report[self._position])
        numbers = {k: report[k] for k in self._shown if report.get(k) is not None}
        if self._tqdm is not None:
            self._tqdm.set_postfix({k: f"{v:.4f}" for k, v in numbers.items()}, refresh=False)
            self._tqdm.update(done - self._done)
        else:
            text = " ".join(f"{k} {v:.4f}" for k, v in numbers.items())
            print(f"\r{self._unit} {done}/{self._total} {text}", end="", file=sys.stderr, flush=True)
        self._done = done

    def close(self) -> None:
        if self._tqdm is not None:
            self._tqdm.close()
        else:
            print(file=sys.stderr)


class ProgressHook:
    """Turns ``progress`` (None, True for a bar, or a callable taking the report dict and returning
    False to cancel) into a cfx_progress_fn. An exception the callable raises (Ctrl-C included)
    cancels the run and is re-raised by :meth:`finish` after the call returns."""

    def __init__(self, progress: Progress, total: int, unit: str, position: str,
                 shown: Sequence[str] = ()):
        if progress not in (None, False, True) and not callable(progress):
            raise InvalidArgumentError("progress: expected None, True or a callable")
        self._bar = _Bar(total, unit, position, shown) if progress is True else None
        self._callback = self._bar if self._bar is not None else (progress if callable(progress) else None)
        self._pending: Optional[BaseException] = None
        self.c_function = PROGRESS_FN(self._call) if self._callback is not None else PROGRESS_FN()

    def _call(self, _user, text) -> int:
        try:
            return 1 if self._callback(json.loads(text.decode("utf-8"))) is False else 0
        except BaseException as exc:  # noqa: BLE001 -- must not unwind into C
            self._pending = self._pending or exc
            return 1

    def finish(self) -> None:
        """Closes the bar and re-raises what the callback raised, if anything."""
        if self._bar is not None:
            self._bar.close()
        if self._pending is not None:
            raise self._pending
