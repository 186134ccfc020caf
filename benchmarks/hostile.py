"""Hostile inputs: wall time and peak RSS of ``hoodwink predict`` per reproducer, and a fuzz run.

    python benchmarks/hostile.py                 # the corpus table
    python benchmarks/hostile.py --fuzz 600      # also fuzz load_image for 600 s

Each reproducer in ``tests/data/hostile`` runs in its own ``hoodwink predict FILE --json``
process (peak RSS from ``wait4``); a valid one-pixel PNG is the baseline, the start-up floor
of a file that is read (Python, torch, the model): a file refused by its header or its
decoder never imports torch. The fuzz run uses atheris when it is installed, else hypothesis-style random
mutations of small valid images for the same time, and counts non-project exceptions
(anything but ``ImageError`` escaping ``load_image``) and inputs that take over 2 s.

Example:
    $ OMP_NUM_THREADS=1 python benchmarks/hostile.py --fuzz 60
"""

from __future__ import annotations

import argparse
import io
import os
import random
import subprocess
import sys
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "hostile"
#: The issue's figures before the fix (hoodwink predict, same files).
BEFORE = {"gif-7440x8595.gif": "18 s, 4.1 GB", "tiff-16x1818636.tif": "21 s, 2 GB",
          "png-10000x1.png": "7.9 GB asked of torch"}


def run_predict(target: str) -> tuple[float, float, int, str]:
    """Wall seconds, peak RSS (MB), exit code and last stderr line of ``hoodwink predict target``."""
    command = [str(Path(sys.executable).parent / "hoodwink"), "predict", target, "--json"]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    stderr = process.stderr.read().decode() if process.stderr else ""
    lines = [line for line in stderr.splitlines() if line.strip()]
    return seconds, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), (lines[-1] if lines else "")


def corpus_table() -> list[str]:
    """One ``hoodwink predict`` per file; ``1x1.png`` (a valid one-pixel image) is the start-up
    floor (Python, torch, the model), and "over floor" is what the file itself adds."""
    import tempfile

    from PIL import Image

    lines = [(f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
             f"cpus {os.cpu_count()}"),
             (f"{'file':26} {'bytes':>7} {'wall s':>7} {'over floor':>10} {'peak MB':>8} {'exit':>4}  "
             "before / message")]
    for line in lines:
        print(line)
    with tempfile.TemporaryDirectory() as folder:
        tiny = Path(folder) / "1x1.png"
        Image.new("RGB", (1, 1), (90, 120, 200)).save(tiny)
        files = [tiny, *sorted(p for p in CORPUS.iterdir() if p.suffix != ".py")]
        run_predict(str(tiny))      # warm the file cache: the floor is a warm start
        floor = None
        for path in files:
            seconds, peak, code, line = run_predict(str(path))
            floor = seconds if floor is None else floor
            note = BEFORE.get(path.name, "")
            text = f"{note} / {line}" if note else line
            lines.append(f"{path.name:26} {path.stat().st_size:>7} {seconds:7.2f} "
                         f"{seconds - floor:+10.2f} {peak:8.0f} {code:>4}  "
                         f"{text.replace(str(CORPUS) + '/', '')[:100]}")
            print(lines[-1], flush=True)
    return lines


def _seeds() -> list[bytes]:
    from PIL import Image

    out = []
    picture = Image.new("RGB", (5, 4), (200, 30, 60))
    for fmt in ("PNG", "GIF", "BMP", "JPEG", "TIFF", "PPM", "WEBP", "ICO"):
        buffer = io.BytesIO()
        picture.save(buffer, format=fmt)
        out.append(buffer.getvalue())
    out += [p.read_bytes() for p in CORPUS.iterdir() if p.suffix != ".py" and p.stat().st_size < 4096]
    return out


def _mutate(data: bytes, rng: random.Random) -> bytes:
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        at = rng.randrange(max(1, len(buffer)))
        action = rng.random()
        if action < 0.5 and buffer:
            buffer[at] = rng.randrange(256)
        elif action < 0.7:
            del buffer[at:]
        else:
            buffer[at:at] = rng.randbytes(rng.randint(1, 16))
    return bytes(buffer)


def fuzz(seconds: float) -> None:
    """Fuzz ``load_image`` for ``seconds``; print the counts the issue asks for."""
    from hoodwink.errors import ImageError
    from hoodwink.images import load_image

    counts = {"inputs": 0, "loaded": 0, "image_errors": 0, "other_exceptions": 0, "over_2s": 0}
    others: dict[str, int] = {}

    def one(data: bytes) -> None:
        counts["inputs"] += 1
        start = time.perf_counter()
        try:
            load_image(data)
            counts["loaded"] += 1
        except ImageError:
            counts["image_errors"] += 1
        except Exception as exc:  # noqa: BLE001 (counting what escapes is the point)
            counts["other_exceptions"] += 1
            key = f"{type(exc).__name__}: {str(exc)[:60]}"
            others[key] = others.get(key, 0) + 1
        if time.perf_counter() - start > 2.0:
            counts["over_2s"] += 1

    if _has_atheris():
        _atheris_in_child(seconds)
        return
    end = time.monotonic() + seconds
    rng = random.Random(0)
    seeds = _seeds()
    while time.monotonic() < end:
        one(_mutate(rng.choice(seeds), rng))
    _report("random mutations (atheris is not installed)", seconds, counts, others)


def _has_atheris() -> bool:
    try:
        import atheris  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        return False
    return True


def _report(engine: str, seconds: float, counts: dict[str, int], others: dict[str, int]) -> None:
    print(f"fuzz: {engine}, {seconds:g} s: {counts}")
    for key, n in sorted(others.items(), key=lambda kv: -kv[1])[:10]:
        print(f"  {n:5d}  {key}")


def _atheris_in_child(seconds: float) -> None:
    """Run libFuzzer (atheris) in a child for ``seconds``; it writes its counts to a JSON file."""
    import json
    import tempfile

    folder = Path(tempfile.mkdtemp())
    seeds = folder / "seeds"
    seeds.mkdir()
    for i, data in enumerate(_seeds()):
        (seeds / f"{i}").write_bytes(data)
    counts_file = folder / "counts.json"
    subprocess.run([sys.executable, __file__, "--atheris-child", str(counts_file), str(seeds),
                    f"-max_total_time={int(seconds)}", "-timeout=10", "-rss_limit_mb=4096"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    report = json.loads(counts_file.read_text()) if counts_file.exists() else {"counts": {}, "others": {}}
    _report("atheris (libFuzzer, coverage-guided)", seconds, report["counts"], report["others"])
    for slow in sorted(folder.glob("slow-*.bin")):
        print(f"over 2 s: {slow} ({slow.stat().st_size} bytes)")


def _atheris_child(counts_file: str, argv: list[str]) -> None:
    import json

    import atheris

    with atheris.instrument_imports(include=["PIL"]):  # Pillow's Python decoders, not torch
        from PIL import Image

        Image.init()  # import every format plugin now, instrumented
    from hoodwink.errors import ImageError
    from hoodwink.images import load_image

    counts = {"inputs": 0, "loaded": 0, "image_errors": 0, "other_exceptions": 0, "over_2s": 0}
    others: dict[str, int] = {}

    def save() -> None:
        Path(counts_file).write_text(json.dumps({"counts": counts, "others": others}))

    def test_one_input(data: bytes) -> None:
        counts["inputs"] += 1
        start = time.perf_counter()
        try:
            load_image(data)
            counts["loaded"] += 1
        except ImageError:
            counts["image_errors"] += 1
        except Exception as exc:  # noqa: BLE001 (counting what escapes is the point)
            counts["other_exceptions"] += 1
            key = f"{type(exc).__name__}: {str(exc)[:60]}"
            others[key] = others.get(key, 0) + 1
            save()
        took = time.perf_counter() - start
        if took > 2.0:
            counts["over_2s"] += 1
            slow = Path(counts_file).with_name(f"slow-{counts['over_2s']}-{took:.1f}s.bin")
            slow.write_bytes(data)  # kept to reproduce (and to add to tests/data/hostile)
            save()
        if counts["inputs"] % 200 == 0:
            save()

    atheris.Setup([sys.argv[0], *argv], test_one_input)
    atheris.Fuzz()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fuzz", type=float, default=0.0, help="fuzz load_image for this many seconds")
    parser.add_argument("--no-table", action="store_true", help="skip the corpus table")
    parser.add_argument("--out", type=Path, help="also write the table here (Markdown)")
    parser.add_argument("--atheris-child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.atheris_child:
        _atheris_child(args.atheris_child[0], args.atheris_child[1:])
        return
    if not args.no_table:
        lines = corpus_table()
        if args.out is not None:
            import datetime
            import platform
            import shlex

            command = shlex.join(["python", *sys.argv])
            args.out.write_text(
                f"# Hostile inputs: `hoodwink predict` per reproducer\n\n{datetime.date.today()}, "
                f"{platform.machine()}, Python {platform.python_version()}; command: `{command}`\n\n"
                "Wall time and peak RSS of one `hoodwink predict FILE --json` process per file; "
                "`1x1.png` (a valid one-pixel PNG) is the start-up floor.\n\n```\n"
                + "\n".join(lines) + "\n```\n")
    if args.fuzz > 0:
        fuzz(args.fuzz)


if __name__ == "__main__":
    main()
