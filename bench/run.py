"""Run every benchmark (``make bench``): models, converter, quantization quality, Lava (crops and whole
images), energy."""

import sys

from bench import converter, energy, lava, lava_profile, lava_tiles, lava_wakeup, models, quantization


def main() -> int:
    for bench in (models, converter, quantization, lava, lava_profile, lava_tiles, lava_wakeup, energy):
        rc = bench.main([])
        if rc:
            return rc
    return 0


if __name__ == "__main__":
    sys.exit(main())
