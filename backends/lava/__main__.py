"""``python -m spikec.backends.lava``: create (or find) Lava's Python 3.10 environment and print its interpreter."""
import sys

from .env import main

sys.exit(main())
