"""`python -m harness.front`: runs the Lambda front (see harness/front/__init__.py)."""

import sys

from harness.front.server import main

sys.exit(main())
