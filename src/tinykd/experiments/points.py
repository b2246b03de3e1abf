"""The points of a sweep: the T x alpha grid, the course's named KD cases and ESKD's teacher
lengths, each point a name and the params keys it sets.

The names are the experiment names of `tinykd sweep queue` (grid-T4-a0.5); the Snakemake sweep's
folders use the same number format (workflow/rules/sweep.smk: T4-a0.5).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..dotted import cli_value
from ..errors import ParamError

# The grid of the course's exercise: T x alpha.
GRID_TEMPERATURES = (1.0, 2.0, 4.0, 16.0, 32.0, 64.0)
GRID_ALPHAS = (0.1, 0.3, 0.5, 0.7, 0.9)
# ESKD: teachers stopped after k epochs.
ESKD_TEACHER_EPOCHS = (1, 2, 5, 10, 20)

# The course's named KD cases. alpha weighs the hard-label loss (see tinykd.distill):
# alpha = 1 ignores the teacher, alpha = 0 ignores the labels.
COURSE_CASES = (
    ("labels-only", 1.0, 1.0, "alpha = 1: cross-entropy on labels only, the teacher is ignored (T unused)"),
    ("teacher-only-T1", 0.0, 1.0, "alpha = 0, T = 1: match the teacher's plain softmax, no labels"),
    ("teacher-only-T4", 0.0, 4.0, "alpha = 0, T = 4: match the teacher's softened outputs, no labels"),
    ("keras-example", 0.1, 10.0, "alpha = 0.1, T = 10: the Keras knowledge-distillation example"),
    ("mnist", 0.5, 4.0, "alpha = 0.5, T = 4: the course's MNIST distillation"),
    ("final", 0.4, 3.0, "alpha = 0.4, T = 3: the course's final choice (presets/course_kd.yaml)"),
)


@dataclass(frozen=True)
class Point:
    """One experiment: a name and the params it sets."""

    name: str
    sets: tuple[tuple[str, object], ...]
    note: str = ""

    def set_args(self) -> list[str]:
        out = []
        for key, value in self.sets:
            out += ["-S", f"{key}={cli_value(value)}"]
        return out


def tag(value: float) -> str:
    """A number as it appears in experiment and folder names: 4.0 -> '4', 0.5 -> '0.5'."""
    return f"{float(value):g}"


def grid_points(temperatures=GRID_TEMPERATURES, alphas=GRID_ALPHAS, prefix: str = "grid") -> list[Point]:
    check_grid(temperatures, alphas)
    return [Point(f"{prefix}-T{tag(t)}-a{tag(a)}", (("kd.alpha", float(a)), ("kd.temperature", float(t))))
            for a in alphas for t in temperatures]


def course_points(prefix: str = "course") -> list[Point]:
    return [Point(f"{prefix}-{name}", (("kd.alpha", a), ("kd.temperature", t)), note)
            for name, a, t, note in COURSE_CASES]


def eskd_points(epochs=ESKD_TEACHER_EPOCHS, prefix: str = "eskd") -> list[Point]:
    for k in epochs:
        if int(k) != k or k < 1:
            raise ParamError("teacher.epochs", k, "integers >= 1 for an ESKD sweep")
    return [Point(f"{prefix}-k{int(k)}", (("teacher.epochs", int(k)),),
                  f"teacher trained {int(k)} epoch(s) only") for k in epochs]


def check_grid(temperatures, alphas) -> None:
    for t in temperatures:
        if not float(t) > 0:
            raise ParamError("kd.temperature", t, "numbers > 0")
    for a in alphas:
        if not 0.0 <= float(a) <= 1.0:
            raise ParamError("kd.alpha", a, "numbers between 0 and 1")
    if not temperatures or not alphas:
        raise ParamError("sweep grid", f"{list(temperatures)} x {list(alphas)}",
                         "at least one temperature and one alpha")


def parse_numbers(text: str, key: str) -> list[float]:
    """'1,2,4' -> [1.0, 2.0, 4.0], naming the option on bad input."""
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ParamError(key, text, "a comma-separated list of numbers, e.g. 1,2,4") from None


def sweep_defaults(params_path: Path) -> dict:
    """The `sweep:` section of params.yaml (validated, defaults filled); the built-in grid without one."""
    from .. import params as P

    if not Path(params_path).is_file():
        return {"temperatures": list(GRID_TEMPERATURES), "alphas": list(GRID_ALPHAS),
                "teacher_epochs": list(ESKD_TEACHER_EPOCHS)}
    return P.load(params_path)["sweep"]
