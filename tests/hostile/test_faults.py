"""Faults: full disks, read-only folders, SIGTERM and SIGINT leave one line and no temporary file."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import hypothesis.strategies as st
import pytest
import torch
from hypothesis import HealthCheck, given, settings

from hoodwink import io as hio
from hoodwink.errors import ImageError, OutputError
from hoodwink.images import load_image, save_image


def _no_temporaries(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(("code", "words"), [(errno.ENOSPC, "disk full"), (errno.EROFS, "read-only"),
                                             (errno.EACCES, "permission denied")])
def test_a_failed_write_is_one_line_naming_the_file_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, words: str
) -> None:
    target = tmp_path / "x.png"
    target.write_bytes(b"previous")

    def broken(fd: int) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(OutputError) as info:
        save_image(torch.rand(3, 4, 4), target)
    assert str(info.value).startswith(f"{target}: could not write (") and words in str(info.value)
    assert "\n" not in str(info.value)
    assert target.read_bytes() == b"previous" and _no_temporaries(tmp_path) == []


def test_the_cleanup_s_own_error_never_hides_the_real_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    def cannot_remove(self: Path, missing_ok: bool = False) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(os, "fsync", full)
    monkeypatch.setattr(Path, "unlink", cannot_remove)
    with pytest.raises(OutputError, match="disk full"):
        hio.write_atomic(tmp_path / "a.bin", b"data")


def test_an_interrupt_while_writing_leaves_no_temporary(tmp_path: Path) -> None:
    def interrupted(handle: object) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        hio.write_atomic(tmp_path / "a.bin", interrupted)
    assert list(tmp_path.iterdir()) == []


class _Killed(Exception):
    pass


def _raise_killed(signum: int, frame: object) -> None:
    raise _Killed


def test_a_signal_the_moment_the_temporary_exists_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The signal arrives as mkstemp returns, before write_atomic's cleanup is armed: the
    # one window a kill mid-attack found in CI. It must land inside the cleanup, also when
    # the OS hands it to another thread (as it may to one of torch's): one waits here.
    real = tempfile.mkstemp

    def signalled(*args: object, **kwargs: object) -> tuple[int, str]:
        made = real(*args, **kwargs)  # type: ignore[call-overload]
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # time for the handler to run here, whichever thread got the signal
        return made

    before = signal.signal(signal.SIGTERM, _raise_killed)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        monkeypatch.setattr(tempfile, "mkstemp", signalled)
        with pytest.raises(_Killed):
            hio.write_atomic(tmp_path / "a.bin", b"data")
    finally:
        signal.signal(signal.SIGTERM, before)
        stop.set()
        other.join()
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_folder_is_found_before_the_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # As root, chmod does not stop writes; a read-only file system is what mkstemp meets
    def read_only(*args: object, **kwargs: object) -> tuple[int, str]:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(OutputError, match=r"--out .*m\.safetensors: cannot write in .* \(the file system is read-only\)"):
        hio.check_output(tmp_path / "m.safetensors", what="--out", probe=True)


def test_saved_files_get_the_usual_mode(tmp_path: Path) -> None:
    umask = os.umask(0o027)
    try:
        path = save_image(torch.rand(3, 4, 4), tmp_path / "x.png")
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o640


def test_an_output_equal_to_an_input_is_refused_unless_overwrite(tmp_path: Path) -> None:
    image = tmp_path / "cat.png"
    save_image(torch.rand(3, 4, 4), image)
    with pytest.raises(OutputError, match="is one of the inputs; refusing to overwrite it"):
        hio.check_output(tmp_path / "." / "cat.png", suffixes=(".png",), inputs=[image])
    assert hio.check_output(image, suffixes=(".png",), inputs=[image], overwrite=True) == image
    with pytest.raises(OutputError, match="holds the input"):
        hio.check_out_dir(tmp_path, inputs=[image])


@pytest.mark.parametrize("kind", ["fifo", "loop", "empty", "devzero"])
def test_odd_paths_say_what_they_are(tmp_path: Path, kind: str) -> None:
    if kind == "fifo":
        path = tmp_path / "pipe.png"
        os.mkfifo(path)
        expected = "a FIFO"
    elif kind == "loop":
        path = tmp_path / "loop.png"
        path.symlink_to(tmp_path / "loop.png")
        expected = "symbolic link loop"
    elif kind == "devzero":
        path = Path("/dev/zero")
        expected = "a character device"
    else:
        with pytest.raises(ImageError, match="an empty name is not an image"):
            load_image("")
        return
    start = time.perf_counter()
    with pytest.raises(ImageError, match=expected):
        load_image(path)
    assert time.perf_counter() - start < 1.0


# --- property: any bytes give a valid image or the project's own error ------------------------

def _seeds() -> list[bytes]:
    import io

    from PIL import Image

    out = []
    picture = Image.new("RGB", (5, 4), (200, 30, 60))
    for fmt in ("PNG", "GIF", "BMP", "JPEG", "TIFF", "PPM", "WEBP", "ICO"):
        buffer = io.BytesIO()
        picture.save(buffer, format=fmt)
        out.append(buffer.getvalue())
    return out


SEEDS = _seeds()


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 6))):
        action = draw(st.sampled_from(["flip", "cut", "insert"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if action == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[at:]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated())
def test_any_bytes_decode_to_a_valid_image_or_an_image_error(data: bytes) -> None:
    try:
        image = load_image(data, max_pixels=1_000_000)
    except ImageError as exc:
        assert "\n" not in str(exc)
        return
    assert image.dtype == torch.float32 and image.dim() == 3 and image.shape[0] == 3
    assert bool(torch.isfinite(image).all()) and float(image.min()) >= 0.0 and float(image.max()) <= 1.0


# --- SIGTERM and SIGINT on a real `hoodwink attack` -------------------------------------------

@pytest.fixture(scope="module")
def attack_setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from hoodwink.models.registry import model_info, save_model

    root = tmp_path_factory.mktemp("attack")
    model = save_model(model_info("mlp").build(pretrained=False, device="cpu", hidden=4),
                       root / "tiny.safetensors")
    images = root / "images"
    images.mkdir()
    for i in range(60):
        save_image(torch.rand(1, 28, 28), images / f"{i:03d}.png")
    return model, images


@pytest.mark.parametrize(("sig", "code"), [
    (signal.SIGTERM, 143),
    pytest.param(signal.SIGINT, 130, marks=pytest.mark.slow),  # a second CLI start-up (~5 s)
])
def test_a_signal_mid_attack_leaves_no_temporary_file(attack_setup: tuple[Path, Path], sig: int, code: int) -> None:
    model, images = attack_setup
    out = Path(tempfile.mkdtemp())
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "hoodwink"), "attack", str(images), "--model", str(model),
         "--out-dir", str(out), "--batch-size", "1", "--attack", "pgd", "--steps", "200", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(out.glob("*.png"))) < 3 and process.poll() is None:
        time.sleep(0.02)
    assert process.poll() is None, process.communicate()
    process.send_signal(sig)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == code, stderr
    assert _no_temporaries(out) == [] and stdout == ""
    assert [line for line in stderr.splitlines() if line.strip()][-1].startswith("error:")
