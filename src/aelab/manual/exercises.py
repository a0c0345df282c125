"""The gradient exercises a user can be graded on, by name, and the problems each is graded on.

Each problem is chosen to expose a class of mistakes; a mistake that no problem exposes would pass
(tests/test_grader.py checks that every catalogued mistake fails at least one problem):
- D = H (every width equal): a transposed product keeps the right shape, only its numbers differ;
- a batch of one (n = 1) — and batches of several, where a missing 1/n or a mean for a sum shows;
- a dead hidden unit (unit 0 of each hidden layer has Z < 0 on every row): a dropped hidden mask
  passes gradient through it;
- outputs clipped by the ReLU (every other output has Z_L < 0 on every row): a dropped output mask
  passes the residual −x through them;
- random biases everywhere, so the bias gradients are exercised on real values.
"""

from __future__ import annotations

from dataclasses import dataclass

from aelab.manual.layered import Layered
from aelab.registries import lookup


@dataclass(frozen=True)
class ProblemSpec:
    """One graded problem: n rows of layer widths (D, H1, …, D); which units are forced off."""

    label: str  # what the problem exposes, for messages
    n: int
    widths: tuple[int, ...]
    dead_hidden: bool = False  # unit 0 of every hidden layer never fires
    clipped_output: bool = False  # every other output unit is 0 on every row (ReLU output only)


@dataclass(frozen=True)
class Exercise:
    """A model to derive the gradients of, and the problems a derivation is graded on."""

    name: str
    title: str
    model: Layered
    widths: tuple[str, ...]  # the layer widths' symbols, (D, H, D) or (D, H1, H2, H1, D), for shapes in text
    equations: str  # where docs/gradients.md derives them
    problems: tuple[ProblemSpec, ...]


def _problems(
    widths_equal: tuple[int, ...], widths_one: tuple[int, ...], widths_other: tuple[int, ...], relu_output: bool
) -> tuple[ProblemSpec, ...]:
    """The four problems, for a model with the given widths (D = H, batch of one, the rest)."""
    return (
        ProblemSpec("D = H (transposes keep their shape)", 5, widths_equal),
        ProblemSpec("batch of one", 1, widths_one),
        ProblemSpec("a dead hidden unit", 6, widths_other, dead_hidden=True),
        ProblemSpec(
            "outputs clipped by the ReLU" if relu_output else "several rows",
            7,
            widths_other,
            clipped_output=relu_output,
        ),
    )


EXERCISES = {
    "shallow": Exercise(
        "shallow",
        "one hidden ReLU layer, ReLU output, squared error",
        Layered(2, "relu"),
        ("D", "H", "D"),
        "(G1)–(G8)",
        _problems((4, 4, 4), (5, 3, 5), (6, 4, 6), relu_output=True),
    ),
    "sigmoid-bce": Exercise(
        "sigmoid-bce",
        "one hidden ReLU layer, sigmoid output, binary cross-entropy",
        Layered(2, "sigmoid"),
        ("D", "H", "D"),
        "(B1) with (G3)–(G8)",
        _problems((4, 4, 4), (5, 3, 5), (6, 4, 6), relu_output=False),
    ),
    "deep": Exercise(
        "deep",
        "three hidden ReLU layers (D → H1 → H2 → H1 → D), ReLU output, squared error",
        Layered(4, "relu"),
        ("D", "H1", "H2", "H1", "D"),
        "(D1)–(D5)",
        _problems((4, 4, 4, 4, 4), (5, 4, 3, 4, 5), (6, 5, 3, 5, 6), relu_output=True),
    ),
}


def get_exercise(name: str) -> Exercise:
    """The exercise called `name`; an unknown name is a one-line ConfigError with a suggestion."""
    return lookup(name, EXERCISES, "gradient exercise")
