"""``--report DIR``: an HTML page and a JSON document of an evaluation.

The page shows, in this order: what was judged (against the true labels),
clean and robust accuracy with the accuracy after each attack, the flags
against false robustness with their evidence, the curve, the per-class and
per-group bars with the plain answer to "you can't fool a dog", and a grid of
broken images with their classes (each linked to its adversarial PNG).

Example:
    >>> paths = write_report(report, "report/", data)               # doctest: +SKIP
    >>> [p.name for p in paths]                                     # doctest: +SKIP
    ['report.json', 'curve.png', 'classes.png', 'broken.png', 'index.html']
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

from hoodwink.evaluate.classes import ranked
from hoodwink.evaluate.data import LabelledData
from hoodwink.evaluate.run import Report
from hoodwink.io import write_atomic
from hoodwink.models.classifier import model_input

#: Broken images shown in the grid.
GRID = 16


def write_report(report: Report, folder: str | os.PathLike[str], data: LabelledData | None = None,
                 model: object = None) -> list[Path]:
    """Write ``report.json``, the figures and ``index.html`` into ``folder`` (created)."""
    from hoodwink.viz.common import save_figure
    from hoodwink.viz.evaluate import broken_figure, classes_figure, curve_figure

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = [write_atomic(out / "report.json",
                          (json.dumps(report.to_dict(), indent=2) + "\n").encode())]
    paths.append(save_figure(curve_figure(report), out / "curve.png"))
    figures = []
    for k, evaluation in enumerate(report.evaluations):
        name = f"classes-{k}.png"
        paths.append(save_figure(classes_figure(report, evaluation), out / name))
        figures.append(name)
    pairs = []
    if data is not None:
        from hoodwink.images import load_image

        for s in report.broken()[:GRID]:
            if s.png is None or not Path(s.png).is_file():
                continue
            clean = model_input(model, data.image(s.index))[0] if model is not None else data.image(s.index)
            pairs.append((clean.cpu(), load_image(s.png), f"{_name(report, s.label)}",
                          f"-> {_name(report, s.adv_pred)} ({s.linf * 255:.3g}/255)"))
    paths.append(save_figure(broken_figure(pairs), out / "broken.png"))
    paths.append(write_atomic(out / "index.html", _page(report, figures, out).encode()))
    return paths


def _name(report: Report, cls: int) -> str:
    return report.names.name(cls) if cls < len(report.names) else str(cls)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _page(report: Report, class_figures: list[str], folder: Path) -> str:
    e = html.escape
    doc = report.to_dict(samples=False)
    rows = []
    for ev in report.evaluations:
        after = "".join(f"<td>{_pct(v)}</td>" for _, v in ev.accuracy_after()[1:])
        rows.append(f"<tr><td>{ev.threat.eps * 255:g}/255</td><td>{_pct(ev.clean_accuracy)}</td>"
                    f"{after}<td><b>{_pct(ev.robust_accuracy)}</b></td></tr>")
    heads = "".join(f"<th>after {e(a)}</th>" for a in report.suite.labels)
    flags = "".join(
        f"<li class='{'raised' if f.raised else 'ok'}'><b>{'FLAG' if f.raised else 'ok'}"
        f" {e(f.name)}</b>: {e(f.message)} <small>({e(f.reference)}; evidence: "
        f"<code>{e(json.dumps(f.evidence))}</code>)</small></li>"
        for f in report.flags)
    claims = "".join(f"<p><b>{e(c.text)}</b></p>" for c in report.dog_claims())
    ranks = []
    for ev in report.evaluations:
        most, least = ranked(report.classes(ev))
        ranks.append(f"<p>eps {ev.threat.eps * 255:g}/255: most robust classes: "
                     f"{e(', '.join(r.name for r in most))}; least robust: "
                     f"{e(', '.join(r.name for r in least))}</p>")
    broken = []
    for s in report.broken()[:200]:
        link = s.png or ""
        try:
            link = os.path.relpath(link, folder) if link else ""
        except ValueError:
            pass
        broken.append(f"<tr><td>{s.index}</td><td>{e(report.image_name(s.index))}</td>"
                      f"<td>{e(_name(report, s.label))}</td><td>{e(_name(report, s.adv_pred))}</td>"
                      f"<td>{e(str(s.broken_by))}</td><td>{s.linf * 255:.3g}/255</td>"
                      f"<td>{s.forward}/{s.backward}/{s.queries}</td>"
                      f"<td>{f'<a href={chr(34)}{e(link)}{chr(34)}>png</a>' if link else ''}</td></tr>")
    notes = "".join(f"<p><i>{e(n)}</i></p>" for n in [*report.suite.notes, report.data_note or ""] if n)
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>hoodwink evaluate: {e(report.model)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px}}
li.raised{{color:#b00}}li.ok{{color:#060}}img{{max-width:100%}}</style></head><body>
<h1>How robust is {e(report.model)}, really?</h1>
<p>Data: {e(report.data)} ({doc['images']} images). Suite: {e(report.suite.name)}
({e(', '.join(report.suite.labels))}). Everything is judged against the <b>true labels</b>;
misclassified clean images count as not robust.</p>{notes}
<table><tr><th>eps</th><th>clean</th>{heads}<th>robust</th></tr>{''.join(rows)}</table>
<h2>Checks against false robustness</h2><ul>{flags}</ul>
<h2>Accuracy against eps</h2><img src="curve.png" alt="robust accuracy against eps">
<h2>Per class</h2>{claims}{''.join(ranks)}
{''.join(f'<img src="{n}" alt="fooled per class">' for n in class_figures)}
<h2>Broken images</h2><img src="broken.png" alt="broken images">
<table><tr><th>index</th><th>image</th><th>true class</th><th>now seen as</th><th>broken by</th>
<th>Linf</th><th>forward/backward/queries</th><th>adversarial</th></tr>{''.join(broken)}</table>
<p><a href="report.json">report.json</a></p></body></html>
"""


__all__ = ["write_report"]
