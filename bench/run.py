"""Run every benchmark (``make bench``): models, converter, quantization quality."""

import sys

from bench import converter, energy, lava, models, quantization


def main() -> int:
    for bench in (models, converter, quantization, lava, energy):
        rc = bench.main([])
        if rc:
            return rc
    return 0


if __name__ == "__main__":
    sys.exit(main())
