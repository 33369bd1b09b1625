"""A helper process that imports only what its work needs: a fresh interpreter running functions it is sent.

A multiprocessing "spawn" child (ProcessPoolExecutor's) imports the parent's main module before its first
job: under `vaxsync run` the console script, i.e. the whole CLI and pipeline (~1 CPU s). "fork" is unsafe
once polars' thread pool runs. This process starts with the parent's import path and this module (standard
library only), or a serving module of the caller's; each request is a pickled (function, arguments), so it
imports the function's module, and nothing else, when the first request arrives. Requests go on its stdin
and are answered, in order, on its stdout. Requests are written by a thread of the caller's: a large one (a
province's frames) fills the pipe, and would hold the caller until the process has read it, i.e. until it
has finished what it was doing.
"""

from __future__ import annotations

import json
import os
import pickle
import queue
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import IO, Any

LENGTH_BYTES = 8
# The interpreter takes the parent's import path (as multiprocessing's spawn does), then the serving module.
_MAIN = "import json, sys; sys.path[:] = json.loads(sys.argv[1]); from {module} import serve; serve()"


class LightProcess:
    """One helper process; requests are answered in the order they were sent.

    `serving_module` must define `serve()` (this module's, or one that wraps it to clean up on exit)."""

    def __init__(self, serving_module: str = __name__) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _MAIN.format(module=serving_module), json.dumps(sys.path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,  # unbuffered: an answer select() saw is never left waiting in a buffer
        )
        self.pending = 0
        self._requests: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._writer = threading.Thread(
            target=self._write_requests, name="light-process-requests", daemon=True
        )
        self._writer.start()

    def fileno(self) -> int:
        """Its answers' pipe (for select)."""
        assert self.process.stdout is not None
        return self.process.stdout.fileno()

    def submit(self, function: Callable[..., Any], *arguments: Any) -> None:
        """Ask for function(*arguments); the function must be importable by name (module level)."""
        self._requests.put(pickle.dumps((function, arguments)))
        self.pending += 1

    def _write_requests(self) -> None:
        """The writer thread: each request in turn, until close() (None) or the process is gone."""
        assert self.process.stdin is not None
        while (request := self._requests.get()) is not None:
            try:
                _write_message(self.process.stdin, request)
            except (BrokenPipeError, ValueError):  # it stopped: result() reports it
                return

    def answer_waiting(self) -> bool:
        """Whether the oldest request's answer has (begun to) arrive, without waiting."""
        return self.pending > 0 and bool(select.select([self], [], [], 0)[0])

    def result(self) -> Any:
        """The answer to the oldest request (waits for it); re-raises the error the process met."""
        assert self.process.stdout is not None
        message = _read_message(self.process.stdout)
        if message is None:
            raise RuntimeError(f"a helper process stopped (exit code {self.process.wait()})")
        self.pending -= 1
        outcome, value = pickle.loads(message)
        if outcome == "error":
            raise value
        return value

    def close(self) -> None:
        """Let it finish (the requests sent, its stdin closed, it exits); kill it if stuck."""
        self._requests.put(None)
        self._writer.join(timeout=10)
        if self._writer.is_alive():  # stuck writing to a process that reads nothing
            self.process.kill()
            self._writer.join()
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> LightProcess:
        return self

    def __exit__(self, error_type: type[BaseException] | None, *exc_info: object) -> None:
        if error_type is not None:
            self.process.kill()  # its work is of no use now
        self.close()


def serve() -> None:
    """The helper's loop: run each requested function until stdin closes."""
    # Ctrl-C reaches the whole process group: the parent stops its helpers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests = sys.stdin.buffer
    # Answers go to a copy of stdout; what else writes to stdout (a library's print) goes to stderr.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    while (message := _read_message(requests)) is not None:
        try:
            function, arguments = pickle.loads(message)
            reply: tuple[str, Any] = ("ok", function(*arguments))
        except Exception as error:  # the parent raises it, as it would have in its own process
            reply = ("error", error)
        try:
            answer = pickle.dumps(reply)
        except Exception:  # an error that cannot be pickled: its type is enough
            answer = pickle.dumps(("error", RuntimeError(f"helper process: {type(reply[1]).__name__}")))
        _write_message(answers, answer)


def _write_message(stream: IO[bytes], payload: bytes) -> None:
    message = memoryview(len(payload).to_bytes(LENGTH_BYTES, "big") + payload)
    while message:  # an unbuffered pipe may take part of it
        message = message[stream.write(message) or 0 :]
    stream.flush()


def _read_message(stream: IO[bytes]) -> bytes | None:
    """One length-prefixed message; None at the end of the stream."""
    header = _read_exactly(stream, LENGTH_BYTES)
    return None if header is None else _read_exactly(stream, int.from_bytes(header, "big"))


def _read_exactly(stream: IO[bytes], size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)  # an unbuffered pipe may give less
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
