"""What ``trick`` and ``attack`` do after an attack when the world is asked about:
save the PNG or the JPEG, judge the JPEG as it reads back, verify through the real
pipeline; and the words and JSON that report it. No printing here: the CLI prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hoodwink.attacks.result import AttackResult
from hoodwink.errors import ParameterError
from hoodwink.io import check_output
from hoodwink.physical.verify import Verification, judge_jpeg, verify

#: JPEG quality of a ``.jpg`` ``--out`` when ``--quality`` is not given.
DEFAULT_QUALITY = 90
JPEG_SUFFIXES = (".jpg", ".jpeg")


def output_quality(out: Path | None, quality: int | None, *, inputs: Sequence[str] = (),
                   overwrite: bool = False) -> int | None:
    """The JPEG quality the output is judged at (None: PNG), checked before any work.

    A ``.jpg``/``.jpeg`` ``out`` is a JPEG at ``quality`` (default 90); ``quality``
    with a ``.png`` ``out`` is refused; ``quality`` without ``out`` judges as JPEG.
    ``out`` must not be one of ``inputs`` unless ``overwrite``.
    """
    jpeg = out is not None and out.suffix.lower() in JPEG_SUFFIXES
    if quality is not None and (isinstance(quality, bool) or not 1 <= int(quality) <= 100):
        raise ParameterError(f"--quality must be 1-100, not {quality}")
    if out is not None and not jpeg and quality is not None:
        raise ParameterError(f"--quality is for a JPEG --out (.jpg), not {out.name}")
    if out is not None:
        check_output(out, suffixes=(".png", *JPEG_SUFFIXES), what="--out", inputs=inputs,
                     overwrite=overwrite, noun="images (.png lossless, or .jpg with --quality)")
    return (DEFAULT_QUALITY if quality is None else int(quality)) if jpeg or quality else None


@dataclass(frozen=True)
class Outcome:
    """An attack's images as they were written and checked.

    Attributes:
        attacked: the result as the attack returned it.
        result: the result judged on what was saved (the decoded JPEG at ``quality``).
        saved: the files written (one per image, None where nothing was).
        verification: the fresh real-world transformations, or None.
    """

    attacked: AttackResult
    result: AttackResult
    quality: int | None
    saved: list[Path | None]
    verification: Verification | None
    robust_to: str | None
    full_size: bool

    def sample_json(self, index: int = 0) -> dict[str, Any]:
        """The JSON keys this adds to one image's document."""
        doc: dict[str, Any] = {"robust_to": self.robust_to, "full_size": self.full_size,
                               "size": list(self.result.adversarial.shape[-2:])}
        if self.quality is not None:
            doc["jpeg"] = {"quality": self.quality,
                           "success_before_jpeg": bool(self.attacked.success[index]),
                           "success": bool(self.result.success[index])}
        if self.verification is not None:
            doc["verify"] = self.verification.sample_dict(index)
        return doc

    def lines(self, index: int = 0) -> list[str]:
        """Plain sentences about one image: the JPEG verdict and the verification."""
        out: list[str] = []
        names, goal = self.result.names, int(self.result.goal_classes[index])
        if self.quality is not None:
            seen = names.name(int(self.result.adversarial_probabilities[index].argmax()))
            ok, before = bool(self.result.success[index]), bool(self.attacked.success[index])
            linf = float(self.attacked.linf[index]) * 255
            if ok:
                out.append(f"the JPEG (quality {self.quality}) read back is {seen}: still tricked "
                           f"(the perturbation was within {linf:.0f}/255; the Linf above counts "
                           "JPEG's own changes too)")
            elif before:
                out.append(f"the JPEG (quality {self.quality}) read back is {seen}: NOT tricked "
                           "(the PNG would be); try --robust-to jpeg or physical")
            else:
                out.append(f"the JPEG (quality {self.quality}) read back is {seen}: not tricked")
        if self.verification is not None:
            v = self.verification
            fooled, total = int(v.fooled[index].sum()), int(v.fooled.shape[1])
            out.append(f"{fooled} of {total} fresh transformations ({v.fraction[index]:.0%}) still "
                       f"say {names.name(goal)} (real PIL/JPEG pipeline, "
                       f"{v.transforms.spec()}, seed {v.seed})"
                       if self.result.goal.toward else
                       f"{fooled} of {total} fresh transformations ({v.fraction[index]:.0%}) still "
                       f"fool the model (real PIL/JPEG pipeline, {v.transforms.spec()}, seed {v.seed})")
        return out


def finish(model: Any, result: AttackResult, *, out: Path | list[Path | None] | None = None,
           quality: int | None = None, verify_samples: int | None = None,
           robust_to: str | None = None, full_size: bool = False,
           seed: int | None = None) -> Outcome:
    """Save ``result``'s images (PNG, or JPEG at ``quality``), judge a JPEG as it reads
    back, and verify ``verify_samples`` fresh transformations of what was saved (drawn
    from ``robust_to``, by default ``physical``) with a seed other than the attack's."""
    from hoodwink.images import save_image

    paths: list[Path | None]
    if isinstance(out, list):
        paths = list(out)
    else:
        paths = [out] + [None] * (len(result) - 1)
    saved: list[Path | None] = []
    for i, path in enumerate(paths):
        saved.append(None if path is None else save_image(result.adversarial[i], path,
                                                          quality=quality))
    judged = result if quality is None else judge_jpeg(model, result, quality)
    check = None
    if verify_samples:
        eot_seed = getattr(model, "seed", None)
        verify_seed = (seed or 0) + 1 if eot_seed is None else int(eot_seed) + 1
        check = verify(model, judged, robust_to or "physical", samples=verify_samples,
                       seed=verify_seed)
    return Outcome(result, judged, quality, saved, check, robust_to, full_size)
