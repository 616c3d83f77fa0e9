"""A ProcessModel that cannot sleep through a command: the fix for lava-nc 0.10's lost wakeup.

Every Lava ProcessModel waits for its next command (the next step, a Var read, stop) in ``CspSelector.select``,
which sleeps on a condition until a port's helper thread calls it back. That thread (``CspRecvPort._req_callback``)
probes the queue, then puts the new message, then calls back only if its probe found the queue empty. When two
commands arrive back to back (the runtime service sends HOST at the end of every ``run()`` and, at once, the next
run's first step, a Var read or stop), the probe for the second can see the first still queued; if the model's
main thread takes that first command and starts its next ``select`` before the helper thread puts the second
(an OS preemption of the helper between its probe and its put is enough), nobody calls back and the model sleeps
forever with a command waiting. The runtime service then waits for that model, and the whole run hangs with every
process idle. On this 2-core machine that happened in about one run in 40 of the 234-process VLIF-Net graph
(``tests/lava/test_wakeup.py`` holds the window open and shows it every time).

:class:`RecheckingSelector` waits the same way but probes its ports again every :data:`RECHECK_S` seconds, so a
lost callback costs at most that long. :class:`RecheckingSimCfg` is Lava's CPU-simulator run config that gives
every Python ProcessModel such a selector (a subclass made by :func:`rechecking`): Lava's stock models, which it
selects, and spikerain's, which its ``exception_proc_model_map`` names; nothing in Lava's installed package
changes.
"""

from __future__ import annotations

import functools

from lava.magma.compiler.channels.pypychannel import CspSelector
from lava.magma.core.model.py.model import AbstractPyProcessModel
from lava.magma.core.run_configs import Loihi2SimCfg

# The longest a lost callback can delay a model. Idle models also wake this often to probe their ports (a few
# microseconds each); bench/lava_wakeup.py finds no cost within the run-to-run noise (docs/benchmarks.md).
RECHECK_S = 0.1


class RecheckingSelector(CspSelector):
    """``CspSelector`` whose wait ends at every port callback, as Lava's does, and also every ``recheck_s``."""

    def __init__(self, recheck_s: float = RECHECK_S) -> None:
        super().__init__()
        self.recheck_s = recheck_s

    def select(self, *channel_actions):
        with self._cv:
            self._set_observer(channel_actions, self._changed)
            while True:
                for channel, action in channel_actions:
                    if channel.probe():
                        self._set_observer(channel_actions, None)
                        return action()
                self._cv.wait(self.recheck_s)


@functools.cache
def rechecking(model: type, recheck_s: float = RECHECK_S) -> type:
    """A subclass of the Python ProcessModel ``model`` that waits for commands with a :class:`RecheckingSelector`;
    any other model (a SubProcessModel, a chip's model) is returned as it is."""
    if not issubclass(model, AbstractPyProcessModel) or getattr(model, "rechecks_commands", False):
        return model

    def __init__(self, proc_params=None):
        model.__init__(self, proc_params)
        self._selector = RecheckingSelector(recheck_s)

    return type(f"Rechecking{model.__name__}", (model,), {"__init__": __init__, "rechecks_commands": True,
                                                          "wrapped_model": model})


class RecheckingSimCfg(Loihi2SimCfg):
    """``Loihi2SimCfg`` whose every Python ProcessModel, selected or named in ``exception_proc_model_map``, rechecks
    its command port (:func:`rechecking`; :func:`python_models_rechecking` counts them in a compiled run).
    ``recheck_s=0`` leaves Lava's models as they are (``bench/lava_wakeup.py`` measures the cost against that)."""

    def __init__(self, *args, recheck_s: float = RECHECK_S, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.recheck_s = recheck_s
        # Lava's compiler takes a process's model from this map without calling select(): wrap them here too
        if recheck_s:
            self.exception_proc_model_map = {p: rechecking(m, recheck_s)
                                             for p, m in self.exception_proc_model_map.items()}

    def select(self, process, proc_models):
        model = super().select(process, proc_models)
        return rechecking(model, self.recheck_s) if self.recheck_s else model


def python_models_rechecking(runtime) -> tuple[int, int]:
    """(Python ProcessModels that recheck, Python ProcessModels) in a compiled Lava ``runtime``: a run reports it
    so that a model that slipped past :class:`RecheckingSimCfg` shows (one did: the exception map's)."""
    models = [b.proc_model for b in runtime._executable.proc_builders.values()
              if issubclass(getattr(b, "proc_model", object), AbstractPyProcessModel)]
    return sum(bool(getattr(m, "rechecks_commands", False)) for m in models), len(models)
