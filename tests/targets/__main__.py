"""``python -m tests.targets DIR JOB...``: the batch of contract runs (batch.py)."""

import sys

from tests.targets.batch import main

sys.exit(main(sys.argv[1:]))
