"""``python -m cg`` (used by ``torchrun -m cg train ...``)."""

import sys

from cg.cli import main

sys.exit(main())
