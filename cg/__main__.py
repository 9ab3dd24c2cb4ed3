"""``python -m cg`` and the ``cg`` command (also ``torchrun -m cg train ...``).

The signal handlers go in before the imports, so Ctrl-C and SIGTERM are one line from the first
moment to the last (:mod:`cg.errors`).
"""

import sys

from cg import errors

__all__ = ["run"]


def run() -> int:
    """The ``cg`` command on this process's command line; its exit status."""
    errors.install()
    try:
        from cg.cli import main  # after the handlers: the imports take a while
    except KeyboardInterrupt as e:
        return errors.ending(errors.report(e))
    return errors.ending(main())


if __name__ == "__main__":
    sys.exit(run())
