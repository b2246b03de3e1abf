"""Sparsity schedules for magnitude pruning (the semantics of tfmot's ConstantSparsity and
PolynomialDecay, re-implemented because tfmot does not run on Keras 3).

Masks are recomputed at step `begin_step` and then every `frequency` steps up to `end_step`
(inclusive); the step `end_step` itself always updates, so the target is reached even when
(end_step - begin_step) is not a multiple of `frequency`. Between updates the mask is held.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import ParamError

KINDS = ("constant", "polynomial_decay")


@dataclass(frozen=True)
class Schedule:
    kind: str
    target_sparsity: float
    initial_sparsity: float = 0.0
    begin_step: int = 0
    end_step: int = -1        # -1 = the last training step (see resolve)
    frequency: int = 100
    power: float = 3.0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ParamError("prune.schedule", self.kind, "one of " + ", ".join(repr(k) for k in KINDS))
        for key, value in (("prune.target_sparsity", self.target_sparsity),
                           ("prune.initial_sparsity", self.initial_sparsity)):
            if not 0.0 <= float(value) < 1.0:
                raise ParamError(key, value, "a number >= 0 and < 1")
        if self.begin_step < 0:
            raise ParamError("prune.begin_step", self.begin_step, "an integer >= 0")
        if self.end_step != -1 and self.end_step < self.begin_step:
            raise ParamError("prune.end_step", self.end_step, f"-1 or an integer >= begin_step ({self.begin_step})")
        if self.frequency < 1:
            raise ParamError("prune.frequency", self.frequency, "an integer >= 1")
        if self.power <= 0:
            raise ParamError("prune.power", self.power, "a number > 0")

    def resolve(self, total_steps: int) -> "Schedule":
        """The schedule with end_step = -1 replaced by the last step of a run of `total_steps`."""
        last = max(0, int(total_steps) - 1)
        if self.begin_step > last:
            raise ParamError("prune.begin_step", self.begin_step,
                             f"a step within the fine-tuning run (0..{last}, from epochs x steps per epoch)")
        end = last if self.end_step == -1 else min(self.end_step, last)
        return Schedule(self.kind, self.target_sparsity, self.initial_sparsity, self.begin_step, end,
                        self.frequency, self.power)

    def should_update(self, step: int) -> bool:
        if step < self.begin_step or (self.end_step != -1 and step > self.end_step):
            return False
        return (step - self.begin_step) % self.frequency == 0 or step == self.end_step

    def sparsity(self, step: int) -> float:
        """Target fraction of zero weights at `step` (0 before begin_step)."""
        if step < self.begin_step:
            return 0.0
        if self.kind == "constant":
            return float(self.target_sparsity)
        if self.end_step == -1:
            raise ValueError("polynomial_decay needs a resolved end_step (call resolve first)")
        span = self.end_step - self.begin_step
        progress = 1.0 if span == 0 else min(1.0, max(0.0, (step - self.begin_step) / span))
        return float(self.target_sparsity + (self.initial_sparsity - self.target_sparsity)
                     * (1.0 - progress) ** self.power)


def from_params(prune: dict) -> Schedule:
    return Schedule(kind=prune["schedule"], target_sparsity=float(prune["target_sparsity"]),
                    initial_sparsity=float(prune["initial_sparsity"]), begin_step=int(prune["begin_step"]),
                    end_step=int(prune["end_step"]), frequency=int(prune["frequency"]),
                    power=float(prune["power"]))
