"""Progress bars: the one rule for whether to draw them, and the bars themselves.

A bar is drawn when the caller asks for one (``--no-progress`` and ``--quiet`` say no) and
the output can show it:

- ``TQDM_DISABLE`` set to anything but ``""``, ``0``, ``false``, ``no`` or ``off`` turns every
  bar off. tqdm reads that variable only for bars whose ``disable`` is left to it, so cg,
  which always decides ``disable`` itself, reads it here;
- in a Jupyter kernel the bars are widgets (:mod:`tqdm.auto` picks ``tqdm.notebook``);
- elsewhere a bar needs a terminal: with stderr redirected to a file or a pipe (a log, CI)
  there are no bars, so the log holds no carriage returns. ``cg train`` then prints one plain
  line per epoch instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

__all__ = ["progress_bar", "progress_enabled"]

_OFF = ("", "0", "false", "no", "off")


def _in_notebook() -> bool:
    """Whether :mod:`tqdm.auto` chose the notebook (widget) bars: we run in a Jupyter kernel
    with ipywidgets installed."""
    from tqdm.auto import tqdm  # slow (~30 ms): cg --help loads this module

    return any(base.__module__ == "tqdm.notebook" for base in tqdm.__mro__)


def _is_terminal(stream: Any) -> bool:
    try:
        return stream is not None and bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def progress_enabled(requested: bool = True) -> bool:
    """Whether to draw a progress bar that the caller ``requested`` (see the module's rule)."""
    if not requested:
        return False
    if os.environ.get("TQDM_DISABLE", "").strip().lower() not in _OFF:
        return False
    return _in_notebook() or _is_terminal(sys.stderr)


def progress_bar(iterable: Iterable[Any] | None = None, *, progress: bool = True, **kwargs: Any):
    """A :mod:`tqdm.auto` bar (a widget in notebooks) over ``iterable``, drawn only when
    :func:`progress_enabled` says so; ``kwargs`` go to tqdm (``desc``, ``total``, ``unit``, ...).
    A bar that is not drawn still counts and iterates, at no cost."""
    from tqdm.auto import tqdm  # slow (~30 ms): cg --help loads this module

    return tqdm(iterable, disable=not progress_enabled(progress), **kwargs)
