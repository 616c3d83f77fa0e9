"""Run in the Lava interpreter by tests/lava/test_wakeup.py: ``python lost_wakeup.py OUT.json``.

A real lava-nc channel (shared memory, semaphores, the receive port's helper thread) carries pairs of messages sent
back to back, as the runtime service sends HOST and then the next command; the receiver selects before each
``recv``, as a ProcessModel does. The receive port is Lava's own, except that its helper thread pauses for
``WINDOW_S`` after a probe that finds a message already queued: the pause stands for the OS preempting that
thread between its probe and its put, which on a busy machine happens only now and then. The receiver starts
``SETTLE_S`` after the pair is sent, inside that window. Each selector gets
``PAIRS`` pairs; a select that has not returned ``GIVE_UP_S`` after its message arrived counts as stuck and is woken
by hand. Writes ``{selector: {"pairs", "stuck", "max_wait_s"}, "window_s", "recheck_s"}``.
"""

import json
import sys
import threading
import time

import numpy as np
from lava.magma.compiler.channels.pypychannel import CspRecvPort, CspSelector, PyPyChannel
from lava.magma.runtime.message_infrastructure.shared_memory_manager import SharedMemoryManager

from spikerain.hardware.lava.wakeup import RECHECK_S, RecheckingSelector

PAIRS = 5
WINDOW_S = 0.3
GIVE_UP_S = 1.0
SETTLE_S = 0.05


class PreemptedRecvPort(CspRecvPort):
    def probe(self):
        found = super().probe()
        if found and threading.current_thread() is self.thread:
            time.sleep(WINDOW_S)
        return found


class SharedMemory:
    def __init__(self):
        self.smm = SharedMemoryManager()
        self.smm.start()


def trial(selector_cls, smm: SharedMemory) -> dict:
    lava = PyPyChannel(smm, "src", "dst", (1,), np.int32, 4)
    send = lava.src_port
    recv = PreemptedRecvPort("dst", lava.dst_port._shm, _proto(lava), 4, lava.dst_port._req, lava.dst_port._ack,
                             lava.dst_port._io_watchdog, lava.dst_port._join_watchdog)
    send.start()
    recv.start()
    selector = selector_cls()
    stuck, waits = 0, []
    for _ in range(PAIRS):
        got = []
        done = threading.Event()

        def receive(got=got, done=done):
            for _ in range(2):
                selector.select((recv, lambda: None))
                got.append((recv.recv()[0], time.monotonic()))
            done.set()

        sent = time.monotonic()
        send.send(np.array([1], np.int32))
        send.send(np.array([2], np.int32))
        # the receiver comes once the helper has queued the first message and probed for the second (its hold):
        # it takes the first and selects for the second inside the window
        time.sleep(SETTLE_S)
        threading.Thread(target=receive, daemon=True).start()
        if not done.wait(WINDOW_S + GIVE_UP_S):
            stuck += 1
            selector._changed()  # wake it by hand, as no port will
            done.wait()
        waits.append(got[-1][1] - sent)
    send.join()
    recv.join()
    return {"pairs": PAIRS, "stuck": stuck, "max_wait_s": max(waits)}


def _proto(channel):
    from lava.magma.compiler.channels.pypychannel import Proto

    port = channel.dst_port
    return Proto(shape=port._shape, dtype=port._dtype, nbytes=port._nbytes)


def main(out: str) -> None:
    smm = SharedMemory()
    try:
        result = {"lava": trial(CspSelector, smm), "rechecking": trial(RecheckingSelector, smm),
                  "window_s": WINDOW_S, "recheck_s": RECHECK_S}
    finally:
        smm.smm.shutdown()
    with open(out, "w", encoding="utf-8") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1])
