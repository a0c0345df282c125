"""What each `aelab` subcommand does with its parsed options: build the config, run the task, print the result."""

from __future__ import annotations

import argparse

from aelab.config import FigureConfig, SweepConfig, TrainConfig, from_arguments
from aelab.devices import PLACEMENT_KEYS


def cmd_train(args: argparse.Namespace) -> int:
    from aelab.tasks.train import train_run

    config = without_unused_options(from_arguments(TrainConfig, args, **quick_overrides(args)))
    figures = from_arguments(FigureConfig, args)
    args.out = args.out or default_out(args, config)
    metrics = train_run(
        config,
        args.out,
        figures,
        data_dir=args.data_dir,
        quiet=args.quiet,
        resume=args.resume,
        force=args.force,
        **quiet_log(args),
    )
    final = metrics["final"]
    if "test_bce" not in final:  # trained with MSE (your own data outside [0, 1])
        print(f"train loss {final['train_loss']:.4f}  test MSE {final['test_mse']:.5f}  → {args.out}")
        return 0
    if "test_elbo" in final:  # a VAE's loss is −ELBO in nats per image, not the per-pixel BCE printed after it
        print(f"train −ELBO {final['train_loss']:.2f}  test −ELBO {-final['test_elbo']:.2f} nats per image", end="  ")
    else:
        print(f"train loss {final['train_loss']:.4f}", end="  ")
    print(
        f"test BCE {final['test_bce']:.4f} (floor {final['test_bce_floor']:.4f}, "
        f"excess {final['test_bce_excess']:.4f})  test MSE {final['test_mse']:.5f}  "
        f"PSNR {final['test_psnr_db']:.2f} dB  → {args.out}"
    )
    return 0


def option_named(name: str, value) -> str:
    """A setting as the command line spells it: `--code-size 8`, `--hidden-sizes 256,128`."""
    shown = ",".join(map(str, value)) if isinstance(value, tuple) else value
    return f"--{name.replace('_', '-')} {shown}"


def say_warning(line) -> None:
    """A warning on the command line: one line on stderr, `aelab: warning: …`, as an error is `aelab: error: …`."""
    import sys

    print(f"aelab: warning: {line}", file=sys.stderr)


def without_unused_options(config):
    """The options the model family does not use, said on stderr and put back to their defaults (recipe.py)."""
    from aelab.tasks.recipe import without_unused

    return without_unused(config, option_named, say_warning)


def default_out(args: argparse.Namespace, config, kind: str = "") -> str:
    """The run folder when --out is not given: runs/[<kind>-]<model>-<data set>[-quick], so runs of other models or
    data never meet, and -2, -3, … added where that is taken, so a second run never lands on an earlier one (as
    Lightning's version_N). --resume and --force act on the last of them: the run they continue or replace."""
    from pathlib import Path

    from aelab.data.custom.paths import folder_label
    from aelab.runs.log import stderr_log

    base = f"runs/{kind}{config.model}-{folder_label(config.dataset)}" + ("-quick" if args.quick else "")

    def numbered(n: int) -> str:
        return base if n == 1 else f"{base}-{n}"

    last = 0
    while Path(numbered(last + 1)).exists():
        last += 1
    if getattr(args, "resume", False) or args.force:
        return numbered(max(last, 1))
    if last and not args.quiet:
        stderr_log(f"{numbered(last)} holds an earlier run: writing {numbered(last + 1)} (--out names the folder)")
    return numbered(last + 1)


QUICK = {"train_size": 2000, "test_size": 1000, "epochs": 1}


def quick_overrides(args: argparse.Namespace) -> dict:
    """--quick's settings, for the options the user did not give explicitly."""
    return {k: v for k, v in QUICK.items() if getattr(args, k) is None} if args.quick else {}


def quiet_log(args: argparse.Namespace) -> dict:
    return {"log": lambda message: None} if args.quiet else {}


def cmd_sweep(args: argparse.Namespace) -> int:
    from aelab.tasks.sweep import run_sweep
    from aelab.tasks.sweep_summary import format_table

    config = without_unused_options(from_arguments(SweepConfig, args, **quick_overrides(args)))
    args.out = args.out or default_out(args, config, "sweep-")
    result = run_sweep(
        config,
        args.out,
        data_dir=args.data_dir,
        quiet=args.quiet,
        resume=args.resume,
        force=args.force,
        **quiet_log(args),
    )
    print(format_table(result))
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    args.study, args.dry_run = "classic", False
    return cmd_run(args)


def cmd_run(args: argparse.Namespace) -> int:
    from aelab.studies import load_study
    from aelab.studies.runner import DEFAULT_WORKERS, dry_run, run_study

    study = load_study(args.study)
    placement = {k: getattr(args, k) for k in PLACEMENT_KEYS if getattr(args, k, None) is not None}
    study = study.with_settings(**placement) if placement else study
    if args.datasets is not None:
        study = study.with_datasets(tuple(name.strip() for name in args.datasets.split(",") if name.strip()))
    out = args.out or f"runs/{study.name}"
    workers = DEFAULT_WORKERS if args.workers is None else args.workers
    ray = ray_settings(study, getattr(args, "ray", None))
    if args.dry_run:  # the same checks as the run (studies/preflight.py), then the plan; nothing written
        print("\n".join(dry_run(study, out, quick=args.quick, force=args.force, workers=workers, ray=ray)))
        return 0
    manifest = run_study(
        study,
        out,
        quick=args.quick,
        force=args.force,
        data_dir=args.data_dir,
        quiet=args.quiet,
        workers=workers,
        ray=ray,
    )
    print(f"report: {manifest['report']['html']} and {manifest['report']['markdown']}")
    for name, reason in manifest["missing"].items():
        print(f"skipped {name}: {reason}")
    if manifest["gradient_checks_passed"] is False:
        return 1
    return (
        4 if study.datasets and set(manifest["missing"]) == set(study.datasets) else 0
    )  # 4: DatasetNotFoundError's code


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
        print("\n".join(inspect_lines(args.path, args.data_dir, **options.reader_options())))
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
        import sys

        from aelab.gradcheck import GradingInterrupted, grade_command, template

        if args.template:
            print(template(args.model or "shallow"), end="")
            return 0
        try:
            return grade_command(
                args.impl,
                args.model or "shallow",
                fmt="json" if args.json else "csv" if args.csv else "text",
                seed=args.seed,
                timeout=args.timeout,
            )
        except GradingInterrupted as stop:  # every child already killed, every temporary folder removed
            print(f"aelab: interrupted: {stop}", file=sys.stderr)
            return stop.exit_code
    from aelab.errors import ConfigError

    for option in ("model", "csv", "timeout"):
        if getattr(args, option) not in (None, False):
            raise ConfigError(
                f"--{option} applies to grading your own gradients: expected it with --impl FILE"
                + (" or --template" if option == "model" else "")
            )
    from aelab.manual.study_checks import gradcheck_command

    return gradcheck_command(as_json=args.json, seed=args.seed)


def cmd_explore(args: argparse.Namespace) -> int:
    from aelab.explorer import explore

    page = explore(args.folder, data_dir=args.data_dir, dataset=args.dataset, code_size=args.code_size, seed=args.seed)
    print(f"explorer: {page}")
    return 0


ANOMALY_QUICK = {"train_size": 1000, "test_size": 2000, "epochs": 1}


def cmd_anomaly(args: argparse.Namespace) -> int:
    from aelab.config import AnomalyConfig
    from aelab.tasks.anomaly.run import format_result, run_anomaly

    quick = {k: v for k, v in ANOMALY_QUICK.items() if getattr(args, k) is None} if args.quick else {}
    config = without_unused_options(from_arguments(AnomalyConfig, args, **quick))
    args.out = args.out or default_out(args, config, "anomaly-")
    result = run_anomaly(
        config, args.out, data_dir=args.data_dir, quiet=args.quiet, force=args.force, **quiet_log(args)
    )
    print(format_result(result))
    print(f"→ {args.out}")
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    from aelab.config import ProbeConfig
    from aelab.tasks.probe.runs import format_probes, probe_runs

    results = probe_runs(args.runs, from_arguments(ProbeConfig, args), data_dir=args.data_dir, **quiet_log(args))
    print(format_probes(results))
    return 0


COMMANDS = {
    "train": cmd_train,
    "sweep": cmd_sweep,
    "run": cmd_run,
    "reproduce": cmd_reproduce,
    "data": cmd_data,
    "gradcheck": cmd_gradcheck,
    "explore": cmd_explore,
    "anomaly": cmd_anomaly,
    "probe": cmd_probe,
}
