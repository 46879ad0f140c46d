"""The package's one error base.

Every error raised for bad input or a failed step (a file that cannot be read, a bad config
key, a model that does not load, a fetch that fails its checksum, ...) is a :class:`FaceSRError`
whose message is one line naming the file or key and the problem. ``keras-facesr`` prints such
an error as ``error: MESSAGE`` and exits with status 1, in one place (``cli.main``); any other
exception is a bug and keeps its traceback. The subclasses also derive from ``ValueError`` or
``RuntimeError``, as before, so existing ``except`` clauses keep working.
"""

from __future__ import annotations


class FaceSRError(Exception):
    """Bad input or a failed step; the message names the file (or key) and the problem."""
