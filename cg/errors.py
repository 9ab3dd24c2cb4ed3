"""The one exception type for user errors.

A :class:`UserError` names the file or value at fault and says what to do; the ``cg`` command
prints it on one line as ``error: …`` and exits with status 2, without a traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input (files, folders, flags, checkpoints), not a bug."""
