"""The options of your own data alone, for `aelab data inspect` (train and sweep carry them in their configs)."""

from __future__ import annotations

from dataclasses import dataclass

from aelab.config import (
    IMAGE_SIZE_HELP,
    LABEL_COLUMN_HELP,
    LOSS_HELP,
    LOSSES,
    SCALE_HELP,
    SCALES,
    TEST_FRACTION_HELP,
    check_data_options,
    option,
)


@dataclass(frozen=True)
class InspectOptions:
    """`--dataset`'s data options and the seed of the split, validated as TrainConfig validates them."""

    dataset: str = option("", "the path inspected")
    image_size: tuple[int, ...] | None = option(None, IMAGE_SIZE_HELP)
    label_column: str | None = option(None, LABEL_COLUMN_HELP)
    test_fraction: float | None = option(None, TEST_FRACTION_HELP)
    scale: str | None = option(None, SCALE_HELP, choices=SCALES)
    loss: str | None = option(None, LOSS_HELP, choices=LOSSES)
    seed: int = option(0, "seed of the drawn test split")

    def __post_init__(self) -> None:
        check_data_options(self)

    def reader_options(self) -> dict:
        return {
            "image_size": self.image_size,
            "label_column": self.label_column,
            "test_fraction": self.test_fraction,
            "scale": self.scale,
            "loss": self.loss,
            "seed": self.seed,
        }
