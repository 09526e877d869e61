"""Per-step numbers out of a Trainer's logs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from transformers import PrinterCallback, TrainerCallback

StepRow = dict[str, float]


class StepRecorder(TrainerCallback):
    """Keeps each logged step as a row (`convert` picks the numbers, or None for a non-step log) and
    hands it to the listeners as it comes."""

    def __init__(self, convert: Callable[[int, dict[str, Any]], StepRow | None]) -> None:
        self.convert = convert
        self.steps: list[StepRow] = []
        self.listeners: list[Callable[[StepRow], None]] = []

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        row = self.convert(int(state.global_step), logs or {})
        if row is None:
            return
        self.steps.append(row)
        for listener in self.listeners:
            listener(row)


def numbers(logs: dict[str, Any], keys: dict[str, str]) -> StepRow:
    """The logged values of `keys` (log name -> row name) that are numbers."""
    return {
        name: float(logs[key])
        for key, name in keys.items()
        if isinstance(logs.get(key), int | float) and not isinstance(logs.get(key), bool)
    }


def quiet(trainer: Any) -> None:
    """Without a progress bar the Trainer prints every log dict to stdout; StepRecorder reports them instead."""
    trainer.remove_callback(PrinterCallback)
