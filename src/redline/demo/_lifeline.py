"""Children that notice their parent is gone.

The parent keeps the write end of a pipe and passes the read end to each child. Nothing is
ever written: when the parent exits, however it dies (even SIGKILL), the kernel closes the
write end and the child's blocking read returns EOF. That is immediate and, unlike polling
``os.getppid()``, does not depend on who adopts orphans.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable

__all__ = ["watch_parent"]


def watch_parent(fd: int, on_gone: Callable[[], None], *, grace: float = 10.0) -> None:
    """Call ``on_gone`` once the pipe ``fd`` reaches EOF; hard-exit ``grace`` seconds later."""

    def run() -> None:
        try:
            while os.read(fd, 1):
                pass
        except OSError:
            pass
        print("redline demo: parent process gone, shutting down", file=sys.stderr, flush=True)
        on_gone()
        # A graceful stop that hangs must not leave an orphan behind.
        timer = threading.Timer(grace, os._exit, args=(1,))
        timer.daemon = True
        timer.start()

    threading.Thread(target=run, name="lifeline", daemon=True).start()
