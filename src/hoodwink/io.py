"""The one atomic writer and the one output-path check.

Every file hoodwink writes (PNGs, figures, pages, model files, summaries, datasets)
goes through :func:`write_atomic`: the bytes go to a temporary file in the target's
folder, are flushed and fsynced, get the usual file mode (0666 less the umask), and
replace the target in one ``os.replace``. On any exception, including
``KeyboardInterrupt`` and the CLI's SIGTERM, the temporary file is removed and the
target is untouched. A full disk, a read-only folder or a missing permission is one
:class:`~hoodwink.errors.OutputError` line naming the file; an error while cleaning
up never hides the first one.

Commands call :func:`check_output` (and :func:`check_out_dir`) before their work, so a
bad ``--out`` fails at once and no input is ever overwritten without ``--overwrite``.

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> path = check_output(folder / "x.txt", suffixes=(".txt",))
    >>> write_atomic(path, b"hello").read_bytes()
    b'hello'
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import os
import signal
import socket
import ssl
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

from hoodwink.errors import DownloadError, OutputError

#: Writes the content into an open binary file.
Writer = Callable[[IO[bytes]], object]

_REASONS = {
    errno.ENOSPC: "no space left on the device (disk full)",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOENT: "the folder does not exist",
    errno.EISDIR: "it is a directory",
    errno.ENAMETOOLONG: "the name is too long",
    errno.EFBIG: "the file is too large for this file system",
}


def reason(exc: BaseException) -> str:
    """A plain-words reason for an ``OSError`` (``"disk full"``), else the exception's text."""
    if isinstance(exc, OSError) and exc.errno in _REASONS:
        return _REASONS[exc.errno]
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _umask() -> int:
    # os.umask can only be read by setting it; read it from /proc where possible (thread-safe).
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike[str], content: bytes | Writer) -> Path:
    """Write ``content`` (bytes, or a function that writes into a binary file) to ``path`` atomically.

    The target either keeps its old content or gets the whole new one; no temporary file
    is left behind, whatever the exception (``KeyboardInterrupt`` and SIGTERM included).

    Raises:
        OutputError: the file could not be written (the message names it and says why).

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.bin"
        >>> write_atomic(target, lambda f: f.write(b"abc")).read_bytes()
        b'abc'
    """
    path = Path(path)
    with _signals_held() as release:
        try:
            fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        except OSError as exc:
            raise OutputError(f"{path}: could not write ({reason(exc)})") from exc
        tmp = Path(name)
        try:
            with os.fdopen(fd, "wb") as handle:
                release()  # a Ctrl-C or SIGTERM held since mkstemp lands here, inside the cleanup
                if isinstance(content, (bytes, bytearray, memoryview)):
                    handle.write(content)
                else:
                    content(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, path)
        except OSError as exc:
            _discard(tmp)
            raise OutputError(f"{path}: could not write ({reason(exc)})") from exc
        except BaseException:
            _discard(tmp)
            raise
    _sync_folder(path.parent)
    return path


_HELD = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def _signals_held() -> Iterator[Callable[[], None]]:
    """Hold SIGINT and SIGTERM back until ``release()`` (or the block's end), so that a signal
    cannot land between ``mkstemp`` creating the temporary file and the ``try`` that removes it.

    Python runs signal handlers in the main thread whichever thread the OS picked (torch's
    threads included), so the handlers are swapped for one that only notes the signal, and
    ``release()`` puts them back and raises what was noted. Elsewhere than the main thread no
    handler can interrupt the write, and nothing is held.
    """
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None
        return
    noted: list[int] = []
    before = {s: h for s in _HELD if (h := signal.getsignal(s)) is not None}  # None: set in C
    for s in before:
        signal.signal(s, lambda signum, frame: noted.append(signum))
    held = True

    def release() -> None:
        nonlocal held
        if held:
            held = False
            for s, handler in before.items():
                signal.signal(s, handler)
            for signum in noted:
                signal.raise_signal(signum)

    try:
        yield release
    finally:
        release()


def _discard(tmp: Path) -> None:
    """Remove a temporary file; an error here must never replace the one being raised."""
    with contextlib.suppress(OSError):
        tmp.unlink(missing_ok=True)


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def check_output(
    path: str | os.PathLike[str],
    *,
    suffixes: Iterable[str] = (),
    what: str = "",
    inputs: Iterable[str | os.PathLike[str]] = (),
    overwrite: bool = False,
    probe: bool = False,
    noun: str = "files",
) -> Path:
    """``path`` as a Path if a file can be written there; else one :class:`OutputError`.

    Checks, before any work: the suffix (one of ``suffixes``, when given), that the folder
    exists and the path is not a folder, that the path is none of ``inputs`` (unless
    ``overwrite``), and with ``probe`` that the folder is writable (by creating and removing
    a temporary file, which also catches a read-only file system as root). ``noun`` names
    what is saved, for the message.

    Example:
        >>> check_output("x.jpg", suffixes=(".png",), what="--out")
        Traceback (most recent call last):
        hoodwink.errors.OutputError: --out x.jpg: files are saved as .png, not .jpg
    """
    path = Path(path)
    label = f"{what} {path}" if what else str(path)
    if not str(path) or path.name in ("", ".", ".."):
        raise OutputError(f"{what or 'output'} {str(path)!r}: not a file name")
    allowed = tuple(s.lower() for s in suffixes)
    if allowed and path.suffix.lower() not in allowed:
        raise OutputError(
            f"{label}: {noun} are saved as {' or '.join(allowed)}, not {path.suffix or 'no suffix'}"
        )
    if not path.parent.is_dir():
        raise OutputError(f"{label}: directory {path.parent} does not exist")
    if path.is_dir():
        raise OutputError(f"{label}: is a directory")
    if not overwrite:
        for source in inputs:
            if _same_file(path, Path(source)):
                raise OutputError(f"{label}: is one of the inputs; refusing to overwrite it (use --overwrite)")
    if probe:
        check_writable(path.parent, label)
    return path


def check_out_dir(
    folder: str | os.PathLike[str],
    *,
    what: str = "--out-dir",
    inputs: Iterable[str | os.PathLike[str]] = (),
    overwrite: bool = False,
) -> Path:
    """``folder`` as a Path if outputs can be written into it (made if missing).

    Refused: a path that is a file, a folder that cannot be written, and, unless
    ``overwrite``, a folder that holds any of ``inputs``.
    """
    folder = Path(folder)
    if not str(folder):
        raise OutputError(f"{what} '': not a folder name")
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{what} {folder}: exists and is not a directory")
    if not overwrite:
        for source in inputs:
            source_path = Path(source)
            if source_path.is_file() and folder.is_dir() and _same_file(folder, source_path.parent):
                raise OutputError(
                    f"{what} {folder}: holds the input {source_path}; its output could overwrite it "
                    "(choose another folder, or use --overwrite)"
                )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{what} {folder}: could not create the folder ({reason(exc)})") from exc
    check_writable(folder, f"{what} {folder}")
    return folder


def check_writable(folder: Path, label: str) -> None:
    """Fail now, not after the work, if nothing can be written in ``folder``."""
    try:
        fd, name = tempfile.mkstemp(prefix=".hoodwink-probe.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputError(f"{label}: cannot write in {folder} ({reason(exc)})") from exc
    os.close(fd)
    _discard(Path(name))


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


# --- downloads ---------------------------------------------------------------------------------

#: Redirects followed before a download gives up.
MAX_REDIRECTS = 5


class _Deadline:
    """Closes the connection's socket when the whole download's time is up."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds
        self.seconds = seconds
        self.expired = False
        self._lock = threading.Lock()
        self._connection: http.client.HTTPConnection | None = None
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def left(self) -> float:
        return max(0.01, self.end - time.monotonic())

    def watch(self, connection: http.client.HTTPConnection | None) -> None:
        with self._lock:
            self._connection = connection
            if self.expired and connection is not None:
                connection.close()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            connection = self._connection
            if connection is not None and connection.sock is not None:
                with contextlib.suppress(OSError):
                    connection.sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


def fetch(url: str, *, max_bytes: int, deadline_s: float, read_timeout_s: float = 20.0) -> bytes:
    """The body of an http(s) ``url``, at most ``max_bytes``, all within ``deadline_s`` seconds.

    The deadline covers the whole download (connecting, headers, redirects and every byte
    of the body), so a server that sends one byte every second cannot hold it for longer.
    Every failure (refused or timed-out connection, bad host or port, malformed status
    line or headers, a body cut short, too many redirects, an HTTP error status, a body
    over the cap) is one :class:`~hoodwink.errors.DownloadError` line naming the URL.

    Example:
        >>> fetch("http://127.0.0.1:9/x.png", max_bytes=100, deadline_s=1)
        Traceback (most recent call last):
        hoodwink.errors.DownloadError: http://127.0.0.1:9/x.png: could not download (connection refused)
    """
    deadline = _Deadline(deadline_s)
    try:
        current = url
        seen: list[str] = []
        for _ in range(MAX_REDIRECTS + 1):
            status, location, body = _fetch_once(current, url, max_bytes, deadline, read_timeout_s)
            if location is None:
                if status >= 400:
                    raise DownloadError(f"{url}: HTTP {status} {http.client.responses.get(status, '')}".rstrip())
                return body
            seen.append(current)
            current = urllib.parse.urljoin(current, location)
            if current in seen:
                raise DownloadError(f"{url}: redirect loop ({current} again)")
        raise DownloadError(f"{url}: more than {MAX_REDIRECTS} redirects")
    finally:
        deadline.cancel()


def _fetch_once(
    url: str, original: str, max_bytes: int, deadline: _Deadline, read_timeout_s: float
) -> tuple[int, str | None, bytes]:
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DownloadError(f"{original}: invalid URL ({reason(exc)})") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DownloadError(f"{original}: only http(s) URLs with a host can be downloaded")
    timeout = min(read_timeout_s, deadline.left())
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(parts.hostname, port, timeout=timeout)
    else:
        connection = http.client.HTTPConnection(parts.hostname, port, timeout=timeout)
    deadline.watch(connection)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("GET", target, headers={"User-Agent": "hoodwink", "Accept-Encoding": "identity"})
        response = connection.getresponse()
        if response.status in (301, 302, 303, 307, 308):
            location = response.getheader("Location")
            if not location:
                raise DownloadError(f"{original}: HTTP {response.status} redirect without a Location")
            return response.status, location, b""
        if response.status >= 400:
            return response.status, None, b""
        length = response.getheader("Content-Length")
        if length and length.isdigit() and int(length) > max_bytes:
            raise DownloadError(f"{original}: too large ({int(length)} bytes; the cap is {max_bytes})")
        chunks: list[bytes] = []
        size = 0
        while True:
            if deadline.expired:
                raise TimeoutError
            chunk = response.read1(1 << 16)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise DownloadError(f"{original}: too large (over {max_bytes} bytes)")
            chunks.append(chunk)
        if deadline.expired:
            raise TimeoutError
        return response.status, None, b"".join(chunks)
    except DownloadError:
        raise
    except TimeoutError as exc:
        raise DownloadError(
            f"{original}: could not download (no complete answer within {deadline.seconds:g} s)"
        ) from exc
    except (http.client.HTTPException, OSError, ValueError, UnicodeError) as exc:
        if deadline.expired:
            raise DownloadError(
                f"{original}: could not download (no complete answer within {deadline.seconds:g} s)"
            ) from exc
        raise DownloadError(f"{original}: could not download ({_http_reason(exc)})") from exc
    finally:
        deadline.watch(None)
        connection.close()


def _http_reason(exc: BaseException) -> str:
    if isinstance(exc, http.client.IncompleteRead):
        return f"the server closed the connection after {len(exc.partial)} bytes of the body"
    if isinstance(exc, http.client.LineTooLong):
        return "a header or status line too long"
    if isinstance(exc, http.client.BadStatusLine):
        return "not an HTTP answer (bad status line)"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "the server closed the connection without answering"
    if isinstance(exc, http.client.InvalidURL):
        return f"invalid URL: {reason(exc)}"
    if isinstance(exc, http.client.HTTPException):
        return f"malformed HTTP answer: {reason(exc)}"
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {reason(exc)}"
    return reason(exc)
