"""How robust is this model, really? Robustness evaluation on a labelled dataset.

* :func:`evaluate`: clean accuracy, then a worst-case ensemble of attacks
  (each runs only on the images still robust) at each eps, judged against the
  true labels; resumable from an SQLite store; checks against false
  robustness; curves and per-class robustness, in one :class:`Report`.
* :func:`load_data`: labelled images from folders, CSV files, MNIST, tensors
  or PyTorch datasets.
* :func:`get_suite`: the ``standard`` (AutoAttack's) and ``quick`` suites.

Example:
    >>> from hoodwink.evaluate import evaluate                        # doctest: +SKIP
    >>> report = evaluate(model, "digits/", eps=[0.1, 0.3], suite="quick")  # doctest: +SKIP
    >>> [round(e.robust_accuracy, 2) for e in report.evaluations]     # doctest: +SKIP
    [0.41, 0.0]
"""

from __future__ import annotations

from hoodwink.evaluate.checks import Flag
from hoodwink.evaluate.data import DataError, LabelledData, from_tensors, load_data
from hoodwink.evaluate.run import Progress, Report, evaluate
from hoodwink.evaluate.store import Store, StoreError, model_fingerprint
from hoodwink.evaluate.suite import Evaluation, SampleRecord, Suite, SuiteAttack, get_suite

__all__ = ["DataError", "Evaluation", "Flag", "LabelledData", "Progress", "Report", "SampleRecord",
           "Store", "StoreError", "Suite", "SuiteAttack", "evaluate", "from_tensors", "get_suite",
           "load_data", "model_fingerprint"]
