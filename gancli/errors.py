"""Domain errors: raised deep in the core, turned into one red line and exit 1 by the CLI."""


class GancliError(Exception):
    """A problem the user can fix (bad option, missing file, foreign checkpoint ...).

    The CLI prints ``str(error)`` on one line and exits 1; anything that is *not* a GancliError
    is a bug and keeps its traceback.
    """
