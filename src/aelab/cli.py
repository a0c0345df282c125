"""The `aelab` command line: a thin layer over the library.

Options of `train` come from the config dataclasses; every `AelabError` becomes one line on
stderr and the exit code of its kind. Nothing runs at import.
"""

from __future__ import annotations

import argparse
import re
import sys

from aelab.config import FigureConfig, SweepConfig, TrainConfig, add_arguments, from_arguments
from aelab.devices import DEVICES, PLACEMENT_KEYS
from aelab.errors import AelabError


# argparse takes "-1e-3" for an option (its own pattern knows only -1 and -.5), so `--learning-rate -1e-3`
# never reached the validator and its one-line range; this pattern also knows exponents, inf and nan
NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|infinity|nan)$", re.IGNORECASE)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad option is one line (naming the option and what was expected) and exit code 2,
    and a negative number in any notation is a value, not an option."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = NEGATIVE_NUMBER

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="aelab", description="An autoencoder laboratory: the classic study, reproduced and measured.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=OneLineParser)

    train = sub.add_parser("train", help="train one autoencoder and write its run folder")
    add_arguments(train, TrainConfig)
    add_arguments(train, FigureConfig)
    train.add_argument("--out", default="runs/shallow", help="run folder to write (default: runs/shallow)")
    add_common(train)
    train.add_argument("--quick", action="store_true", help="smoke run in seconds: 2,000 training images, 1,000 test, 1 epoch")
    train.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoint (same options as the "
                       "interrupted run); the result is bit-identical to an uninterrupted run")
    train.add_argument("--force", action="store_true", help="replace a finished or interrupted run in --out (without it, "
                       "such a folder is refused)")

    sweep = sub.add_parser("sweep", help="train autoencoders of several code sizes together, against a PCA reference")
    add_arguments(sweep, SweepConfig)
    sweep.add_argument("--out", default="runs/sweep", help="run folder to write (default: runs/sweep)")
    add_common(sweep)
    sweep.add_argument("--quick", action="store_true", help="smoke run in seconds: 2,000 training images, 1,000 test, 1 epoch")
    sweep.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoint (same options)")
    sweep.add_argument("--force", action="store_true", help="replace a finished or interrupted sweep in --out")

    run = sub.add_parser("run", help="run a study file (data sets × steps, with grids) or a shipped study such as classic, "
                         "then write report.html and report.md")
    run.add_argument("study", help="a study's TOML file, or the name of a study shipped with aelab (classic)")
    run.add_argument("--out", default=None, help="folder for every step's run folder and the report (default: "
                     "runs/<study name>); steps already done there for the same settings are kept")
    run.add_argument("--datasets", default=None, help="data sets, comma-separated, instead of the study's own")
    add_study_options(run)
    run.add_argument("--ray", nargs="?", const="auto", default=None, metavar="ADDRESS",
                     help="run the training steps as tasks on a Ray cluster: ADDRESS of its head node (HOST:PORT), or "
                          "without it the cluster `ray start` made on this machine; needs pip install 'aelab[ray]' "
                          "(a study file's [ray] table does the same and sets what each cell asks for)")
    run.add_argument("--dry-run", action="store_true", help="list the run folders and cells and the estimated time; "
                     "run and write nothing")

    reproduce = sub.add_parser("reproduce", help="the classic study in one command (= aelab run classic): gradient checks, "
                               "four models and a code-size sweep per data set, then report.html and report.md")
    reproduce.add_argument("--out", default="runs/study", help="folder for every step's run folder and the report "
                           "(default: runs/study); steps already done there for the same settings are kept")
    reproduce.add_argument("--datasets", default="mnist,fashion-mnist",
                           help="data sets, comma-separated (default: mnist,fashion-mnist); one that is not found is skipped")
    add_study_options(reproduce)

    data = sub.add_parser("data", help="list, verify or fetch the data sets")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION", parser_class=OneLineParser)
    add_common(data_sub.add_parser("list", help="where each data set is and whether its digests verify"))
    for action, text in (("verify", "check one data set's digests"), ("fetch", "download a data set into the cache if it is not found")):
        p = data_sub.add_parser(action, help=text)
        p.add_argument("name", help="data set name (mnist, fashion-mnist)")
        add_common(p)

    inspect = data_sub.add_parser("inspect", help="what aelab sees in your own data (count, shape, dtype, value range, "
                                  "classes, split, scaling, loss, SHA-256) before training")
    inspect.add_argument("path", help="an image folder, .npy, .npz, .csv/.tsv table, or IDX file(s)")
    add_data_options(inspect)

    grad = sub.add_parser("gradcheck", help="verify the hand-derived NumPy gradients against finite differences and "
                          "autograd, or grade your own (--impl)")
    what = grad.add_mutually_exclusive_group()
    what.add_argument("--impl", nargs="+", metavar="FILE", help="grade these files, each defining gradients(params, X) "
                      "-> dict of gradients; one verdict per file, with the known mistake it matches")
    what.add_argument("--template", action="store_true", help="print a skeleton gradient file (signature, shapes, TODOs)")
    grad.add_argument("--model", default=None, help="the exercise for --impl and --template: shallow (default), "
                      "sigmoid-bce or deep")
    output = grad.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the results as JSON (with --impl: one row per file)")
    output.add_argument("--csv", action="store_true", help="with --impl: print one CSV row per file")
    grad.add_argument("--timeout", type=float, default=None, help="with --impl: seconds each file may run (default: 20)")
    grad.add_argument("--seed", type=int, default=0, help="seed of the random test inputs (default: 0)")

    explore = sub.add_parser("explore", help="write explorer.html into a run folder: the trained model in the browser "
                             "(draw, reconstruct, walk the code space), one offline page")
    explore.add_argument("folder", help="the folder of a finished `aelab train` run (any family with a decoder)")
    explore.add_argument("--dataset", default=None, help="the data set whose test images the page shows (default: the "
                         "run's own; needed for a model fitted on arrays from Python)")
    explore.add_argument("--data-dir", default=None, help="folder holding mnist/ and fashion-mnist/ (searched first)")
    add_anomaly_parsers(sub)
    return parser


def add_anomaly_parsers(sub) -> None:
    """`aelab anomaly` (the one-class protocol) and `aelab probe` (what the codes of trained runs keep)."""
    from aelab.config import AnomalyConfig, ProbeConfig

    anomaly = sub.add_parser("anomaly", help="one-class anomaly detection: per normal class, train on it alone, score "
                             "every test image; AUROC/AUPRC beside PCA and kNN baselines and the published numbers")
    add_arguments(anomaly, AnomalyConfig)
    anomaly.add_argument("--out", default="runs/anomaly", help="run folder to write (default: runs/anomaly)")
    add_common(anomaly)
    anomaly.add_argument("--quick", action="store_true", help="smoke run in seconds: 1,000 training images per class, "
                         "2,000 test images, 1 epoch")
    anomaly.add_argument("--force", action="store_true", help="replace a finished run in --out")
    probe = sub.add_parser("probe", help="linear and kNN probes of the codes of finished train or sweep run folders, "
                           "beside raw pixels and PCA; results and a t-SNE figure into each folder")
    probe.add_argument("runs", nargs="+", metavar="RUN_FOLDER", help="finished `aelab train` or `aelab sweep` folders")
    add_arguments(probe, ProbeConfig)
    add_common(probe)


def add_study_options(parser: argparse.ArgumentParser) -> None:
    """The options `run` and `reproduce` share."""
    add_common(parser)
    parser.add_argument("--quick", action="store_true", help="smoke run in seconds: 2,000 training images, 1,000 test, "
                        "1 epoch, a sweep's first two code sizes")
    parser.add_argument("--force", action="store_true", help="run every step again, even those already done")
    parser.add_argument("--device", default=None, choices=DEVICES, help="where every training step runs, over the study "
                        "file's setting (as `aelab train --device`; default: the file's, else cpu)")
    parser.add_argument("--deterministic", action="store_const", const=True, default=None,
                        help="every training step with PyTorch's deterministic algorithms (as `aelab train --deterministic`)")
    parser.add_argument("--workers", type=int, default=None,
                        help="training steps run at a time, each on one core (default: 2, or 1 on a one-core machine); "
                             "1 runs them one after another")


def add_data_options(parser: argparse.ArgumentParser) -> None:
    """The options of your own data, as `train` has them (from TrainConfig), for `data inspect`."""
    from aelab.data.custom.options import InspectOptions

    add_arguments(parser, InspectOptions)


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=None, help="folder holding mnist/ and fashion-mnist/ (searched first)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")


def cmd_train(args: argparse.Namespace) -> int:
    from aelab.experiments.train_one import train_run

    config = from_arguments(TrainConfig, args, **quick_overrides(args))
    figures = from_arguments(FigureConfig, args)
    metrics = train_run(config, args.out, figures, data_dir=args.data_dir, quiet=args.quiet, resume=args.resume,
                        force=args.force, **quiet_log(args))
    final = metrics["final"]
    if "test_bce" not in final:  # trained with MSE (your own data outside [0, 1])
        print(f"train loss {final['train_loss']:.4f}  test MSE {final['test_mse']:.5f}  → {args.out}")
        return 0
    print(f"train loss {final['train_loss']:.4f}  test BCE {final['test_bce']:.4f} (floor {final['test_bce_floor']:.4f}, "
          f"excess {final['test_bce_excess']:.4f})  test MSE {final['test_mse']:.5f}  PSNR {final['test_psnr_db']:.2f} dB  → {args.out}")
    return 0


QUICK = {"train_size": 2000, "test_size": 1000, "epochs": 1}


def quick_overrides(args: argparse.Namespace) -> dict:
    """--quick's settings, for the options the user did not give explicitly."""
    return {k: v for k, v in QUICK.items() if getattr(args, k) is None} if args.quick else {}


def quiet_log(args: argparse.Namespace) -> dict:
    return {"log": lambda message: None} if args.quiet else {}


def cmd_sweep(args: argparse.Namespace) -> int:
    from aelab.experiments.sweep import format_table, run_sweep

    config = from_arguments(SweepConfig, args, **quick_overrides(args))
    result = run_sweep(config, args.out, data_dir=args.data_dir, quiet=args.quiet, resume=args.resume, force=args.force,
                       **quiet_log(args))
    print(format_table(result))
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    args.study, args.dry_run = "classic", False
    return cmd_run(args)


def cmd_run(args: argparse.Namespace) -> int:
    from aelab.experiments.reproduce import DEFAULT_WORKERS, dry_run, run_study
    from aelab.studies import load_study

    study = load_study(args.study)
    placement = {k: getattr(args, k) for k in PLACEMENT_KEYS if getattr(args, k, None) is not None}
    study = study.with_settings(**placement) if placement else study
    if args.datasets is not None:
        study = study.with_datasets(tuple(name.strip() for name in args.datasets.split(",") if name.strip()))
    out = args.out or f"runs/{study.name}"
    workers = DEFAULT_WORKERS if args.workers is None else args.workers
    if args.dry_run:
        print("\n".join(dry_run(study, out, quick=args.quick, force=args.force, workers=workers)))
        return 0
    manifest = run_study(study, out, quick=args.quick, force=args.force, data_dir=args.data_dir, quiet=args.quiet,
                         workers=workers, ray=ray_settings(study, getattr(args, "ray", None)))
    print(f"report: {manifest['report']['html']} and {manifest['report']['markdown']}")
    for name, reason in manifest["missing"].items():
        print(f"skipped {name}: {reason}")
    if manifest["gradient_checks_passed"] is False:
        return 1
    return 4 if study.datasets and set(manifest["missing"]) == set(study.datasets) else 0  # 4: DatasetNotFoundError's code


def ray_settings(study, address: str | None):
    """Where the study runs: on Ray when --ray is given (its ADDRESS over the file's) or the file has a [ray] table."""
    import dataclasses

    from aelab.studies.cluster import RaySettings

    if address is None:
        return study.ray
    return dataclasses.replace(study.ray or RaySettings(), address=address)


def cmd_data(args: argparse.Namespace) -> int:
    from aelab.data.inspect import all_statuses, dataset_status, format_statuses

    if args.data_command == "inspect":
        from aelab.data.custom.describe import inspect_lines
        from aelab.data.custom.options import InspectOptions

        options = from_arguments(InspectOptions, args, dataset=args.path)
        print("\n".join(inspect_lines(args.path, **options.reader_options())))
        return 0
    if args.data_command == "list":
        statuses = all_statuses(args.data_dir)
        print(format_statuses(statuses))
        return 0
    if args.data_command == "fetch":
        from aelab.data.load import find_or_download
        from aelab.data.registry import get_spec

        find_or_download(get_spec(args.name), args.data_dir, progress=not args.quiet)
    status = dataset_status(args.name, args.data_dir)
    print(format_statuses([status]))
    return 0 if status.verified else (3 if status.found else 4)


def cmd_gradcheck(args: argparse.Namespace) -> int:
    if args.impl or args.template:
        from aelab.gradcheck import grade_command, template

        if args.template:
            print(template(args.model or "shallow"), end="")
            return 0
        return grade_command(args.impl, args.model or "shallow", fmt="json" if args.json else "csv" if args.csv else "text",
                             seed=args.seed, timeout=args.timeout)
    from aelab.errors import ConfigError

    for option in ("model", "csv", "timeout"):
        if getattr(args, option) not in (None, False):
            raise ConfigError(f"--{option} applies to grading your own gradients: expected it with --impl FILE"
                              + (" or --template" if option == "model" else ""))
    from aelab.manual.gradcheck import gradcheck_command

    return gradcheck_command(as_json=args.json, seed=args.seed)


def cmd_explore(args: argparse.Namespace) -> int:
    from aelab.explorer import explore

    print(f"explorer: {explore(args.folder, data_dir=args.data_dir, dataset=args.dataset)}")
    return 0


ANOMALY_QUICK = {"train_size": 1000, "test_size": 2000, "epochs": 1}


def cmd_anomaly(args: argparse.Namespace) -> int:
    from aelab.config import AnomalyConfig
    from aelab.experiments.anomaly import format_result, run_anomaly

    quick = {k: v for k, v in ANOMALY_QUICK.items() if getattr(args, k) is None} if args.quick else {}
    config = from_arguments(AnomalyConfig, args, **quick)
    result = run_anomaly(config, args.out, data_dir=args.data_dir, quiet=args.quiet, force=args.force, **quiet_log(args))
    print(format_result(result))
    print(f"→ {args.out}")
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    from aelab.config import ProbeConfig
    from aelab.experiments.probe_runs import format_probes, probe_runs

    results = probe_runs(args.runs, from_arguments(ProbeConfig, args), data_dir=args.data_dir, **quiet_log(args))
    print(format_probes(results))
    return 0


COMMANDS = {"train": cmd_train, "sweep": cmd_sweep, "run": cmd_run, "reproduce": cmd_reproduce, "data": cmd_data, "gradcheck": cmd_gradcheck}
COMMANDS["explore"] = cmd_explore
COMMANDS.update(anomaly=cmd_anomaly, probe=cmd_probe)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except AelabError as exc:
        print(f"aelab: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("aelab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
