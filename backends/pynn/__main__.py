"""``python -m spikec.backends.pynn --setup [nest|spynnaker]``: create the simulator's venv and print its interpreter."""
import sys

from .. import toolenvs


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "--setup" or len(argv) > 2 or (len(argv) == 2 and argv[1] not in ("nest", "spynnaker")):
        print("usage: python -m spikec.backends.pynn --setup [nest|spynnaker]", file=sys.stderr)
        return 2
    return toolenvs.main([argv[1] if len(argv) == 2 else "nest"])


sys.exit(main(sys.argv[1:]))
