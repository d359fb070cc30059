"""Domain errors: raised deep in the core, turned into one red line and exit 1 by the CLI."""
import contextlib
import signal
import threading


class GancliError(Exception):
    """A problem the user can fix (bad option, missing file, foreign checkpoint ...).

    The CLI prints ``str(error)`` on one line and exits 1; anything that is *not* a GancliError
    is a bug and keeps its traceback.
    """


class Stopped(GancliError):
    """A stop signal (SIGTERM, SIGHUP) arrived while a command wrote its outputs: raised in the main
    thread so that every ``finally`` removes what was half-written; the CLI exits 128 + the signal."""

    def __init__(self, signum: int):

        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}; nothing half-written was left behind")


def stop_signals_raise():
    """A context manager: while it is open (in the main thread), SIGTERM and SIGHUP raise
    ``Stopped`` instead of ending the process at once. Commands that handle signals themselves
    (training saves and stops) install their own handlers inside it."""

    @contextlib.contextmanager
    def manager():
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handle(signum, frame):
            raise Stopped(signum)

        old = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGHUP)}
        try:
            yield
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)

    return manager()
