"""One graph walker for the float and the integer kernels.

Nodes run in topological order; each value is freed once its last consumer ran (unless ``keep``), so memory
follows the live set rather than the graph size. With ``int32`` (the integer kernels: the nodes
``narrow.int32_nodes`` proves fit), those nodes run on int32 values and every other integer node on int64, and
the values in ``float32`` (``narrow.float32_nodes``) are held as exact float32 for the convolutions that read
them; what leaves the walker (outputs, or every value with ``keep``) is int64 either way.

With ``chunk_bytes`` (integer kernels, no observer, no ``keep``), a chain of frame-local nodes (each output
step t reads only its inputs' step t; each link read only by the next) whose inputs hold at least that many
bytes runs one time step at a time: the chain's intermediates exist for one step only, and each convolution's
float32 copy of its input and its output scratch are one step's. The same kernels on slices: the same integers
(every kernel's data-dependent choice is between exact paths) and the same event counts (they add up).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from spikerain.converter import ir
from spikerain.hardware.fastsim.int_kernels import int32_to_float32_
from spikerain.heap import SlackRelease, release_freed_memory

_INTS = (torch.int32, torch.int64)


def _as(v: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return v.to(dtype) if v.dtype in _INTS and v.dtype != dtype else v


def _int64(v: torch.Tensor) -> torch.Tensor:
    return v.to(torch.int64) if v.dtype in _INTS or v.is_floating_point() else v


#: integer ops whose output at step t reads only their inputs at step t (no state, no delay, no mixing of steps)
_FRAME_LOCAL = frozenset({"q_conv2d", "q_upsample2x", "q_add", "q_scale", "q_mul", "q_relu", "q_concat"})


def _frame_local(n: ir.Node) -> bool:
    return n.op in _FRAME_LOCAL and getattr(n, "delay", 0) == 0


def frame_chains(graph: ir.Graph) -> dict[str, tuple[ir.Node, ...]]:
    """Chains of frame-local nodes, keyed by their first node: each link is read by the next one only, and the
    next one's other inputs exist before the chain starts (so the chain can run where its first node stands)."""
    index = {n.name: i for i, n in enumerate(graph.nodes)}
    consumers = graph.consumers()
    by_name = {n.name: n for n in graph.nodes}
    chains: dict[str, tuple[ir.Node, ...]] = {}
    taken: set[str] = set()
    for i, n in enumerate(graph.nodes):
        if n.name in taken or not _frame_local(n):
            continue
        chain = [n]
        while chain[-1].name not in graph.outputs and len(consumers.get(chain[-1].name, ())) == 1:
            nxt = by_name[consumers[chain[-1].name][0]]
            if not _frame_local(nxt) or any(j != chain[-1].name and index[j] >= i for j in nxt.inputs):
                break
            chain.append(nxt)
        taken.update(m.name for m in chain)
        chains[n.name] = tuple(chain)
    return chains


def _run(n: ir.Node, args, kernel_of, kw: dict, int32, float32) -> torch.Tensor:
    if int32 is None:
        return kernel_of(n)(n, *args, **kw)
    dtype = torch.int32 if n.name in int32 else torch.int64
    v = _as(kernel_of(n)(n, *(_as(a, dtype) for a in args), **kw), dtype)
    if n.name in float32:  # read only by int32 convolutions: exact float32, converted in place
        v = int32_to_float32_(v)
    return v


def _live(values: dict[str, torch.Tensor], *more: torch.Tensor) -> int:
    return sum(v.nbytes for v in values.values()) + sum(v.nbytes for v in more)


def _run_by_step(chain, values, kernel_of, stats, int32, float32, watch=None) -> torch.Tensor | None:
    """The chain one time step at a time (module docstring); None if its inputs do not share T > 1 steps."""
    names = {m.name for m in chain}
    ext = [values[i] for m in chain for i in m.inputs if i not in names]
    T = ext[0].shape[0] if ext and ext[0].dim() else 0
    if T < 2 or any(v.dim() == 0 or v.shape[0] != T for v in ext):
        return None
    out = None
    for t in range(T):
        step: dict[str, torch.Tensor] = {}
        for m in chain:
            args = [step.pop(i) if i in step else values[i][t:t + 1] for i in m.inputs]
            kw = {} if stats is None else {"stats": stats.setdefault(m.name, {})}
            step[m.name] = _run(m, args, kernel_of, kw, int32, float32)
        y = step.pop(chain[-1].name)
        if out is None:
            out = torch.empty((T, *y.shape[1:]), dtype=y.dtype)
        out[t:t + 1] = y
        del y
        if watch is not None:
            watch.check(_live(values, out))
    return out


def execute(graph: ir.Graph, x: torch.Tensor, kernel_of: Callable[[str], Callable], *, keep: bool = False,
            observe: Callable[[ir.Node, torch.Tensor], None] | None = None,
            stats: dict | None = None, int32: frozenset[str] | None = None,
            float32: frozenset[str] = frozenset(), chunk_bytes: int | None = None,
            release_bytes: int | None = None, release_slack: int | None = None) -> dict[str, torch.Tensor]:
    """Run ``graph`` on ``x``; returns the outputs, or every node's value if ``keep``.

    ``observe(node, value)`` sees every value once (int32 where ``int32`` narrowed it); ``stats`` (integer
    kernels only) collects per-node event counts under the node's name. ``chunk_bytes``: run frame-local chains
    whose inputs hold at least this many bytes one time step at a time (module docstring; integer kernels
    without ``observe`` or ``keep`` only). ``release_bytes``: once values of at least that many bytes in all
    were freed, hand the heap's free pages back (``spikerain.heap``: glibc keeps the step-sized buffers' pages
    resident otherwise). ``release_slack``: after each node (and each step of a chain), hand them back only if
    the resident bytes malloc holds for no live block grew by more than that since the start or the last
    release (``spikerain.heap.SlackRelease``: a bounded overhead, few releases).
    """
    watch = SlackRelease(release_slack) if release_slack is not None else None
    if watch is not None:
        watch.check(0)
    remaining = {k: len(v) for k, v in graph.consumers().items()}
    chains = frame_chains(graph) if chunk_bytes is not None and int32 is not None and observe is None \
        and not keep else {}
    done: set[str] = set()
    values: dict[str, torch.Tensor] = {}

    freed = [0]

    def drop(i: str) -> None:  # one read of value i done: freed after its last reader
        remaining[i] -= 1
        if remaining[i] == 0 and i not in graph.outputs:
            freed[0] += values.pop(i).nbytes
            if release_bytes is not None and freed[0] >= release_bytes:
                release_freed_memory()
                freed[0] = 0

    for n in graph.nodes:
        if n.name in done:
            continue
        chain = chains.get(n.name)
        if chain is not None:
            names = {m.name for m in chain}
            size = sum(values[i].nbytes for m in chain for i in set(m.inputs) - names)
            out = _run_by_step(chain, values, kernel_of, stats, int32, float32, watch) if size >= chunk_bytes else None
            if out is not None:
                values[chain[-1].name] = out
                done.update(names)
                for i in (i for m in chain for i in m.inputs if i not in names):
                    drop(i)
                if watch is not None:
                    watch.check(_live(values))
                continue
        args = [values[i] for i in n.inputs] if n.inputs else [x]
        kw = {} if stats is None else {"stats": stats.setdefault(n.name, {})}
        values[n.name] = _run(n, args, kernel_of, kw, int32, float32)
        if observe is not None:
            observe(n, values[n.name])
        if not keep:
            for i in n.inputs:
                drop(i)
        if watch is not None:
            watch.check(_live(values))
    out = values if keep else {o: values[o] for o in graph.outputs}
    return out if int32 is None else {k: _int64(v) for k, v in out.items()}
