"""Run every benchmark (``make bench``)."""

import sys

from bench import models


def main() -> int:
    return models.main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
