"""``python -m cg`` (used by ``torchrun -m cg train ...``)."""

import sys

from cg import interrupts

interrupts.install()  # Ctrl-C and SIGTERM are one line from here on, during the imports too
try:
    from cg.cli import main
except KeyboardInterrupt as e:
    sys.exit(interrupts.report(e))

sys.exit(main())
