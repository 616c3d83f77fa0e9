import sys

from spikerain.cli import main

sys.exit(main())
