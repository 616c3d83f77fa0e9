"""Hygiene probe for the child-process runner (used by tests and ``spikerain doctor``-style checks).

``python -m spikerain.hardware.lava.probe_pid [plain|orphan|hang|fail]`` prints its process-group id, then:
plain exits; orphan leaves a sleeping grandchild behind; hang never returns; fail raises.
"""

import os
import subprocess
import sys
import time

mode = sys.argv[1] if len(sys.argv) > 1 else "plain"
print(os.getpgid(0), flush=True)
if mode == "orphan":
    subprocess.Popen(["sleep", "300"])
elif mode == "hang":
    time.sleep(3600)
elif mode == "fail":
    raise RuntimeError("probe failure requested")
