"""The server's caps and the upload decoding (no Gradio needed)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import torch

from hoodwink.errors import ImageError, ParameterError
from hoodwink.web.limits import Limits, decode_data_url, is_local, read_upload

from .conftest import BAD_UPLOAD_WORDS


def test_steps_and_eps_are_capped() -> None:
    limits = Limits(max_steps=20, max_eps=8 / 255)
    assert limits.check_steps(20) == 20 and limits.check_steps(1.0) == 1
    assert limits.check_eps(8) == pytest.approx(8 / 255)
    for bad in (0, 21, 2.5, float("nan"), None, True):
        with pytest.raises(ParameterError, match="steps"):
            limits.check_steps(bad)  # type: ignore[arg-type]
    for bad in (0, 9, -1, float("inf"), None):
        with pytest.raises(ParameterError, match="8/255"):
            limits.check_eps(bad)


@pytest.mark.parametrize("kwargs", [{"max_steps": 0}, {"max_eps": 0.0}, {"max_eps": 2.0},
                                    {"max_upload_bytes": 10}, {"time_limit_s": 0.0}, {"concurrency": 0}])
def test_impossible_limits_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ParameterError):
        Limits(**kwargs)  # type: ignore[arg-type]


def test_bad_uploads_are_one_line_errors(bad_uploads: dict[str, Path]) -> None:
    for kind, path in bad_uploads.items():
        with pytest.raises(ImageError) as info:
            read_upload(path, Limits())
        message = str(info.value)
        assert BAD_UPLOAD_WORDS[kind] in message and "\n" not in message, message
        assert str(path.parent) not in message  # the server's folders are not shown


def test_upload_cap_is_checked_before_decoding(tmp_path: Path) -> None:
    from hoodwink import save_image

    path = save_image(torch.rand(3, 64, 64), tmp_path / "noise.png")
    assert read_upload(path, Limits()).shape == (3, 64, 64)
    with pytest.raises(ImageError, match="more than this server takes"):
        read_upload(path, Limits(max_upload_bytes=1024))
    with pytest.raises(ImageError, match="over the cap"):
        read_upload(path, Limits(max_pixels=100))
    with pytest.raises(ImageError, match="gone"):
        read_upload(tmp_path / "missing.png", Limits())
    with pytest.raises(ImageError, match="no image yet"):
        read_upload(None, Limits())


def test_data_urls(tmp_path: Path) -> None:
    from hoodwink import save_image

    data = save_image(torch.zeros(3, 8, 8), tmp_path / "black.png").read_bytes()
    url = "data:image/png;base64," + base64.b64encode(data).decode()
    assert read_upload(decode_data_url(url, Limits()), Limits()).shape == (3, 8, 8)
    with pytest.raises(ImageError, match="base64"):
        decode_data_url("data:image/png;base64,@@@", Limits())
    with pytest.raises(ImageError, match="more than"):
        decode_data_url("data:image/png;base64," + "A" * 4096, Limits(max_upload_bytes=1024))


def test_local_hosts() -> None:
    assert all(is_local(h) for h in ("127.0.0.1", "localhost", "::1", "127.0.0.2", "[::1]"))
    assert not any(is_local(h) for h in ("0.0.0.0", "192.168.1.2", "example.org", "::"))
