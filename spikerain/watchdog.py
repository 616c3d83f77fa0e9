"""Ends a Lava child's process group when the spikerain process that started it dies, torch-free.

``python -m spikerain.watchdog PARENT_PID PGID``: started by :func:`spikerain.lava_env.run_lava_module` next to
every Lava child, in a session of its own (so a signal to the parent's terminal group does not reach it). A
parent that is killed outright (SIGKILL, the OOM killer) runs no cleanup, and Lava's runtime and process models
would run on as orphans holding their ``/dev/shm`` segments. The watchdog notices the parent's death (it is
re-parented, so its parent pid changes) and ends the group the way the parent would have: SIGTERM, which Lava's
resource tracker ignores, so it outlives the others and unlinks their shared memory, then SIGKILL for what is
left after the grace period. When the group ends on its own the watchdog exits; the parent also stops it.
"""

from __future__ import annotations

import os
import sys
import time

POLL_SECONDS = 0.1


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def watch(parent: int, pgid: int, poll: float = POLL_SECONDS) -> int:
    while os.getppid() == parent:
        if not _group_exists(pgid):
            return 0
        time.sleep(poll)
    from spikerain.lava_env import _kill_group

    _kill_group(pgid, grace=5.0)
    return 0


def main(argv: list[str]) -> int:
    return watch(int(argv[0]), int(argv[1]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
