"""``hoodwink evaluate DATA [--model] [--suite] [--eps LIST] [--report DIR] [--json] [--store FILE]``

How robust is the model, really: clean accuracy, then a worst-case ensemble at
every eps, judged against the true labels; every finished batch is committed
to an SQLite store, so Ctrl-C or a kill loses at most one batch and the same
command resumes where it stopped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from hoodwink.cli.app import (
    DeviceOption,
    JsonOption,
    ModelOption,
    app,
    console,
    err_console,
    fail,
    load_cli_model,
    print_heading,
    print_json,
    print_saved,
    resumable,
)
from hoodwink.models import DEFAULT_MODEL

#: The store when neither --store nor --report says where.
DEFAULT_STORE = Path("hoodwink-evaluate") / "evaluate.sqlite"


@app.command()
def evaluate(
    data: Annotated[str, typer.Argument(
        help="Labelled images: a folder of files named by class index (388_panda.jpg), a folder "
             "per class, MNIST IDX files, or a CSV of path,label.")],
    model: ModelOption = DEFAULT_MODEL,
    suite: Annotated[str, typer.Option("--suite", help="standard (APGD-CE, APGD-T, Square) or quick (for CI).")] = "standard",
    eps: Annotated[str, typer.Option("--eps", help="Budgets, comma-separated, e.g. 1/255,2/255,4/255.")] = "4/255",
    norm: Annotated[str, typer.Option("--norm", help="linf or l2.")] = "linf",
    report: Annotated[Path | None, typer.Option("--report", help="Write index.html, report.json and figures here.")] = None,
    store: Annotated[Path | None, typer.Option(
        "--store", help="SQLite file of finished batches (default: DIR/evaluate.sqlite with --report, "
                        "else hoodwink-evaluate/evaluate.sqlite); the same command resumes from it.")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Images per committed batch.")] = 32,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N images.")] = None,
    checks: Annotated[bool, typer.Option("--checks/--no-checks", help="Run the checks against false robustness.")] = True,
    minimal: Annotated[bool, typer.Option("--minimal/--no-minimal", help="Also find each image's smallest perturbation (DeepFool, one pass): the curve over all eps.")] = True,
    engine: Annotated[str, typer.Option("--engine", help="local, or ray to shard the batches over a Ray actor pool (pip install 'hoodwink\\[ray]').")] = "local",
    workers: Annotated[int, typer.Option("--workers", min=1, help="Ray actors, each loading the model once.")] = 2,
    address: Annotated[str | None, typer.Option("--address", help="Ray cluster to connect to (auto, ray://HEAD:10001); default: start Ray here.")] = None,
    device: DeviceOption = None,
    json_output: JsonOption = False,
) -> None:
    """How robust is it, really? Robust accuracy on labelled data, judged against the true labels."""
    database = store if store is not None else (report / "evaluate.sqlite" if report is not None
                                                else DEFAULT_STORE)
    with resumable(database):
        from hoodwink.evaluate import evaluate as run_evaluation
        from hoodwink.evaluate import get_suite, load_data
        from hoodwink.evaluate.curve import parse_eps_list
        from hoodwink.models.labels import Labels

        radii = parse_eps_list(eps)
        the_suite = get_suite(suite)
        if norm not in ("linf", "l2"):
            fail(f"--norm must be linf or l2, not {norm!r}", code=2)
        if engine not in ("local", "ray"):
            fail(f"--engine must be local or ray, not {engine!r}", code=2)
        classifier = load_cli_model(model, device)
        labels = getattr(classifier, "labels", None)
        dataset = load_data(data, labels=labels if isinstance(labels, Labels) else None,
                            limit=limit)
        if not json_output:
            err_console.print(f"judging {getattr(classifier, 'name', model)} against the true "
                              f"labels of {len(dataset)} images in {data}", highlight=False,
                              markup=False)
            for note in [*the_suite.notes, dataset.note or ""]:
                if note:
                    err_console.print(f"note: {note}", highlight=False, markup=False)
        result = _run(run_evaluation, classifier, dataset, radii, norm, the_suite, batch_size,
                      database, checks, quiet=json_output,
                      engine={"engine": engine, "workers": workers, "address": address,
                              "minimal": minimal})
        if report is not None:
            from hoodwink.evaluate.report import write_report

            written = write_report(result, report, dataset, classifier)
        if json_output:
            doc = result.to_dict()
            doc["store"] = str(database)
            print_json(doc)
            return
        _print(result)
        err_console.print(f"store {database} (the same command resumes from it)", highlight=False,
                          markup=False, soft_wrap=True)
        if report is not None:
            for path in written:
                print_saved(path)


def _run(run_evaluation: Any, classifier: Any, dataset: Any, radii: tuple[float, ...], norm: str,
         suite: Any, batch_size: int, database: Path, checks: bool, *, quiet: bool,
         engine: dict[str, Any]) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
               TextColumn("{task.fields[info]}"))
    with Progress(*columns, console=err_console, transient=True, disable=quiet) as bar:
        task = bar.add_task("evaluating", total=len(dataset) * len(radii), info="")

        def advance(p: Any) -> None:
            info = (f"{p.stage}: robust so far {p.robust}/{p.judged} "
                    f"({p.robust / max(p.judged, 1):.0%})")
            if p.resumed:
                info += f", {p.resumed} resumed"
            bar.update(task, completed=p.done, info=info)

        return run_evaluation(classifier, dataset, eps=radii, norm=norm, suite=suite,
                              batch_size=batch_size, store=database, checks=checks,
                              progress=advance, **engine)


def _print(result: Any) -> None:
    print_heading(f"robust accuracy of {result.model} on {result.data} "
                  f"({len(result.evaluations[0])} images), judged against the true labels")
    table = Table(show_edge=False)
    table.add_column("eps")
    table.add_column("clean", justify="right")
    for label in result.suite.labels:
        table.add_column(f"after {label}", justify="right")
    table.add_column("robust", justify="right")
    for e in result.evaluations:
        after = [f"{v:.1%}" for _, v in e.accuracy_after()[1:]]
        table.add_row(f"{e.threat.eps * 255:g}/255", f"{e.clean_accuracy:.1%}", *after,
                      f"{e.robust_accuracy:.1%}")
    console.print(table)
    for flag in result.flags:
        if flag.applicable:
            mark = "FLAG" if flag.raised else "ok"
            console.print(f"{mark:4} {flag.name}: {flag.message}", highlight=False, markup=False,
                          soft_wrap=True)
    for claim in result.dog_claims():
        console.print(claim.text, highlight=False, markup=False, soft_wrap=True)
