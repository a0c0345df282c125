"""The `aelab` command line's parser: one function per subcommand, the options of a config from its fields."""

from __future__ import annotations

import argparse
import difflib
import re

from aelab import __version__
from aelab.config import FigureConfig, SweepConfig, TrainConfig, add_arguments
from aelab.devices import DEVICES

# argparse takes "-1e-3" for an option (its own pattern knows only -1 and -.5), so `--learning-rate -1e-3`
# never reached the validator and its one-line range; this pattern also knows exponents, inf and nan
NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|infinity|nan)$", re.IGNORECASE)


INVALID_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)$")  # argparse's own wording


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad option is one line (naming the option and what was expected, with the closest
    name where a typo is likely) and exit code 2, pointing at the help of the subcommand it belongs to;
    and a negative number in any notation is a value, not an option."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = NEGATIVE_NUMBER

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {with_suggestion(message)} (see {self.prog} --help)\n")

    def parse_args(self, args=None, namespace=None):
        """Unknown options are refused by the subcommand they were given to (`aelab train: … --code-szie: did you
        mean --code-size?`), not by the top level, whose help does not list them."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            chosen = chosen_parser(self, parsed)
            chosen.error(f"unrecognized arguments: {' '.join(extras)}{option_suggestion(chosen, extras)}")
        return parsed


def with_suggestion(message: str) -> str:
    """argparse's invalid-choice message (a subcommand, a --noise kind) with the closest choice, if one is close."""
    found = INVALID_CHOICE.search(message)
    if found is None:
        return message
    choices = [choice.strip().strip("'") for choice in found.group(2).split(",")]
    close = difflib.get_close_matches(found.group(1), choices, n=1)
    return f"{message}: did you mean '{close[0]}'?" if close else message


def subcommands(parser: argparse.ArgumentParser) -> argparse.Action | None:
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)


def chosen_parser(parser: argparse.ArgumentParser, parsed: argparse.Namespace) -> argparse.ArgumentParser:
    """The innermost subcommand's parser the command line chose (`aelab data inspect` → inspect's)."""
    action = subcommands(parser)
    while action is not None and getattr(parsed, action.dest, None) in action.choices:
        parser = action.choices[getattr(parsed, action.dest)]
        action = subcommands(parser)
    return parser


def option_suggestion(parser: argparse.ArgumentParser, extras: list[str]) -> str:
    """ ": did you mean --code-size?" for the first unknown option close to one of `parser`'s, else nothing."""
    known = [o for a in parser._actions for o in a.option_strings if o.startswith("--")]
    for extra in extras:
        close = difflib.get_close_matches(extra.split("=")[0], known, n=1) if extra.startswith("-") else []
        if close:
            return f": did you mean {close[0]}?"
    return ""


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: one function below per subcommand."""
    parser = OneLineParser(
        prog="aelab", description="An autoencoder laboratory: the classic study, reproduced and measured."
    )
    parser.add_argument("--version", action="version", version=f"aelab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=OneLineParser)
    for add in (
        add_train_parser,
        add_sweep_parser,
        add_run_parser,
        add_reproduce_parser,
        add_data_parser,
        add_gradcheck_parser,
        add_explore_parser,
        add_anomaly_parsers,
    ):
        add(sub)
    return parser


def add_train_parser(sub) -> None:
    train = sub.add_parser("train", help="train one autoencoder and write its run folder")
    add_arguments(train, TrainConfig)
    add_arguments(train, FigureConfig, rest="figures (they change what is drawn, not the model)")
    train.add_argument(
        "--out",
        default=None,
        help="run folder to write (default: runs/<model>-<data set>, -quick added for --quick, e.g. "
        "runs/deep-fashion-mnist; -2, -3, … where an earlier run is)",
    )
    add_common(train)
    train.add_argument(
        "--quick", action="store_true", help="smoke run in seconds: 2,000 training images, 1,000 test, 1 epoch"
    )
    train.add_argument(
        "--resume",
        action="store_true",
        help="continue from the run folder's checkpoint (same options as the "
        "interrupted run); the result is bit-identical to an uninterrupted run",
    )
    train.add_argument(
        "--force",
        action="store_true",
        help="replace a finished or interrupted run in --out (without it, such a folder is refused)",
    )


def add_sweep_parser(sub) -> None:
    sweep = sub.add_parser("sweep", help="train autoencoders of several code sizes together, against a PCA reference")
    add_arguments(sweep, SweepConfig)
    sweep.add_argument(
        "--out", help="run folder to write (default: runs/sweep-<model>-<data set>; -2, -3, … where an earlier run is)"
    )
    add_common(sweep)
    sweep.add_argument(
        "--quick", action="store_true", help="smoke run in seconds: 2,000 training images, 1,000 test, 1 epoch"
    )
    sweep.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoint (same options)")
    sweep.add_argument("--force", action="store_true", help="replace a finished or interrupted sweep in --out")


def add_run_parser(sub) -> None:
    run = sub.add_parser(
        "run",
        help="run a study file (data sets × steps, with grids) or a shipped study such as classic, "
        "then write report.html and report.md",
    )
    run.add_argument("study", help="a study's TOML file, or the name of a study shipped with aelab (classic)")
    run.add_argument(
        "--out",
        default=None,
        help="folder for every step's run folder and the report (default: "
        "runs/<study name>); steps already done there for the same settings are kept",
    )
    run.add_argument("--datasets", default=None, help="data sets, comma-separated, instead of the study's own")
    add_study_options(run)
    run.add_argument(
        "--ray",
        nargs="?",
        const="auto",
        default=None,
        metavar="ADDRESS",
        help="run the training steps as tasks on a Ray cluster: ADDRESS of its head node (HOST:PORT), or "
        "without it the cluster `ray start` made on this machine; needs pip install 'aelab[ray]' "
        "(a study file's [ray] table does the same and sets what each cell asks for)",
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="list the run folders and cells and the estimated time; run and write nothing",
    )


def add_reproduce_parser(sub) -> None:
    reproduce = sub.add_parser(
        "reproduce",
        help="the classic study in one command (= aelab run classic): gradient checks, "
        "four models and a code-size sweep per data set, then report.html and report.md",
    )
    reproduce.add_argument(
        "--out",
        default="runs/study",
        help="folder for every step's run folder and the report "
        "(default: runs/study); steps already done there for the same settings are kept",
    )
    reproduce.add_argument(
        "--datasets",
        default="mnist,fashion-mnist",
        help="data sets, comma-separated (default: mnist,fashion-mnist); one that is not found is skipped",
    )
    add_study_options(reproduce)


def add_data_parser(sub) -> None:
    data = sub.add_parser("data", help="list, verify or fetch the data sets")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION", parser_class=OneLineParser)
    add_common(data_sub.add_parser("list", help="where each data set is and whether its digests verify"))
    for action, text in (
        ("verify", "check one data set's digests"),
        ("fetch", "download a data set into the cache if it is not found"),
    ):
        p = data_sub.add_parser(action, help=text)
        p.add_argument("name", help="data set name (mnist, fashion-mnist)")
        add_common(p)

    inspect = data_sub.add_parser(
        "inspect",
        help="what aelab sees in a data set, your own or built in (count, shape, dtype, value range, "
        "classes, split, scaling, loss, SHA-256) before training",
    )
    inspect.add_argument(
        "path",
        help="an image folder, .npy, .npz, .csv/.tsv table, IDX file(s), or a built-in name (mnist, fashion-mnist)",
    )
    inspect.add_argument("--data-dir", default=None, help="folder holding mnist/ and fashion-mnist/ (searched first)")
    add_data_options(inspect)


def add_gradcheck_parser(sub) -> None:
    grad = sub.add_parser(
        "gradcheck",
        help="verify the hand-derived NumPy gradients against finite differences and "
        "autograd, or grade your own (--impl)",
    )
    what = grad.add_mutually_exclusive_group()
    what.add_argument(
        "--impl",
        nargs="+",
        metavar="FILE",
        help="grade these files, each defining gradients(params, X) "
        "-> dict of gradients; one verdict per file, with the known mistake it matches",
    )
    what.add_argument(
        "--template", action="store_true", help="print a skeleton gradient file (signature, shapes, TODOs)"
    )
    grad.add_argument(
        "--model", default=None, help="the exercise for --impl and --template: shallow (default), sigmoid-bce or deep"
    )
    output = grad.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the results as JSON (with --impl: one row per file)")
    output.add_argument("--csv", action="store_true", help="with --impl: print one CSV row per file")
    grad.add_argument(
        "--timeout", type=float, default=None, help="with --impl: seconds each file may run (default: 20)"
    )
    grad.add_argument("--seed", type=int, default=0, help="seed of the random test inputs (default: 0)")


def add_explore_parser(sub) -> None:
    explore = sub.add_parser(
        "explore",
        help="write explorer.html into a run folder: the trained model in the browser "
        "(draw, reconstruct, walk the code space), one offline page",
    )
    explore.add_argument(
        "folder", help="the folder of a finished `aelab train` run (any family with a decoder) or `aelab sweep` run"
    )
    explore.add_argument(
        "--dataset",
        default=None,
        help="the data set whose test images the page shows (default: the "
        "run's own; needed for a model fitted on arrays from Python)",
    )
    explore.add_argument("--data-dir", default=None, help="folder holding mnist/ and fashion-mnist/ (searched first)")
    for option, what in (("--code-size", "code size"), ("--seed", "seed")):
        explore.add_argument(
            option,
            type=int,
            default=None,
            help=f"with a sweep's folder (or a study's batched cells): the {what} of the model to explore",
        )


def add_anomaly_parsers(sub) -> None:
    """`aelab anomaly` (the one-class protocol) and `aelab probe` (what the codes of trained runs keep)."""
    from aelab.config import AnomalyConfig, ProbeConfig

    anomaly = sub.add_parser(
        "anomaly",
        help="one-class anomaly detection: per normal class, train on it alone, score "
        "every test image; AUROC/AUPRC beside PCA and kNN baselines and the published numbers",
    )
    add_arguments(anomaly, AnomalyConfig)
    anomaly.add_argument(
        "--out",
        help="run folder to write (default: runs/anomaly-<model>-<data set>; -2, -3, … where an earlier run is)",
    )
    add_common(anomaly)
    anomaly.add_argument(
        "--quick",
        action="store_true",
        help="smoke run in seconds: 1,000 training images per class, 2,000 test images, 1 epoch",
    )
    anomaly.add_argument("--force", action="store_true", help="replace a finished run in --out")
    probe = sub.add_parser(
        "probe",
        help="linear and kNN probes of the codes of finished train or sweep run folders, "
        "beside the raw features (pixels) and PCA; results, a figure and a summary.md section into each folder",
    )
    probe.add_argument(
        "runs",
        nargs="+",
        metavar="RUN_FOLDER",
        help="finished `aelab train` or `aelab sweep` folders, on a built-in data set or your own labelled data "
        "(reopened as the run trained on it, and checked unchanged)",
    )
    add_arguments(probe, ProbeConfig)
    add_common(probe)


def add_study_options(parser: argparse.ArgumentParser) -> None:
    """The options `run` and `reproduce` share."""
    add_common(parser)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run in seconds: 2,000 training images, 1,000 test, 1 epoch, a sweep's first two code sizes",
    )
    parser.add_argument("--force", action="store_true", help="run every step again, even those already done")
    parser.add_argument(
        "--device",
        default=None,
        choices=DEVICES,
        help="where every training step runs, over the study "
        "file's setting (as `aelab train --device`; default: the file's, else cpu)",
    )
    parser.add_argument(
        "--deterministic",
        action="store_const",
        const=True,
        default=None,
        help="every training step with PyTorch's deterministic algorithms (as `aelab train --deterministic`)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="training steps run at a time, each on one core (default: 2, or 1 on a one-core machine); "
        "1 runs them one after another",
    )


def add_data_options(parser: argparse.ArgumentParser) -> None:
    """The options of your own data, as `train` has them (from TrainConfig), for `data inspect`."""
    from aelab.data.custom.options import InspectOptions

    add_arguments(parser, InspectOptions)


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=None, help="folder holding mnist/ and fashion-mnist/ (searched first)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")
