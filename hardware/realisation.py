"""What realises each IR node in the Lava graph, and whether that is honest (pure, Lava- and torch-free).

Every Lava process of a :class:`~spikerain.hardware.schedule.Schedule` gets ONE class:

- ``stock``: a lava-nc process with a Loihi hardware model (``Conv``, ``Dense``/``DelayDense``, ``Sparse``,
  ``LIFReset``, ``Delta``, ``SigmaDelta``, ``Sigma``, and the io ``RingBuffer`` source and sink);
- ``custom``: a spikerain on-chip process that a chip could only run with a custom neuron program (Loihi 2
  microcode): one per program (``RequantizeSegment``, ``AddSegment``, ``NILIFSegment``, ...; all in one
  ``ChipSegment`` with ``custom_by_program=False``); it holds on-chip IR nodes only;
- ``host``: a spikerain process that runs on the embedded or host CPU (``HostSegment`` with the IR's ``host``
  ops, and the activity ``probe``).

Each IR node is *held* by the process that produces its value: a requantized conv by the custom segment that
requantizes it (its synapses are in the stock ``Conv``), a concat split into synapses by the stock ``Conv``s
that sum it, the input (and its repetition over T) by the source, a lowered ReLU by the ``Sigma`` ending its
``Delta`` -> ``SigmaDelta`` chain. ``misplaced_nodes`` counts on-chip IR nodes
held by host processes plus host nodes held by stock or custom ones; the schedule keeps it 0.

The verifier's ``--json``, the demo report, ``spikerain map`` and the energy report all show this one summary.
"""

from __future__ import annotations

from spikerain.converter import ir

CLASSES = ("stock", "custom", "host")

#: schedule unit kind -> the class of its Lava process (segments: by their placement)
UNIT_CLASS = {"source": "stock", "conv": "stock", "dense": "stock", "sparse": "stock", "neuron": "stock",
              "sink": "stock", "delta": "stock", "sigma_delta": "stock", "sigma": "stock", "probe": "host"}

def process_class(unit) -> str:
    """``stock``, ``custom`` or ``host`` for one schedule unit."""
    if unit.kind == "segment":
        return "host" if unit.placement == "host" else "custom"
    return UNIT_CLASS[unit.kind]


def held_nodes(g: ir.Graph, s) -> dict[str, tuple[str, ...]]:
    """Unit name -> the IR nodes whose value it produces (each node exactly once)."""
    by = g.by_name()
    held: dict[str, list[str]] = {u.name: [] for u in s.units}
    owner: dict[str, str] = {}
    for u in s.units:
        if u.kind in ("source", "segment"):
            names = u.nodes
        elif u.kind in ("dense", "sparse", "neuron", "sigma"):
            names = u.nodes  # a ReLU group's values leave its Sigma (its Delta and SigmaDelta hold none)
        elif u.kind == "conv":
            node = by[u.nodes[0]]
            # a direct conv's value leaves the Conv; a requantized one's leaves its segment; a split concat is
            # the sum its Conv parts make
            names = [n for n in by[node.name].inputs if n in s.split_concats]
            if node.op == "q_conv2d" and node.identity_requant:
                names.append(node.name)
        else:  # probe, sink, a ReLU group's Delta and SigmaDelta: they hold no IR node
            names = ()
        for n in names:
            if n not in owner:
                owner[n] = u.name
                held[u.name].append(n)
    missing = [n.name for n in g.nodes if n.name not in owner]
    if missing:
        raise ValueError(f"schedule error: no Lava process holds {missing[:5]}")
    return {k: tuple(v) for k, v in held.items()}


def classify(g: ir.Graph, s) -> dict:
    """The summary: processes and held nodes per class, on-chip nodes per realisation, misplaced nodes, the
    custom processes' ops, and every process's class and node count (``processes``)."""
    by = g.by_name()
    held = held_nodes(g, s)
    procs = {c: 0 for c in CLASSES}
    nodes = {c: 0 for c in CLASSES}
    on_chip = {c: 0 for c in CLASSES}
    custom_ops: dict[str, int] = {}
    programs: dict[str, int] = {}
    host_ops: dict[str, int] = {}
    misplaced: list[str] = []
    rows = []
    for u in s.units:
        c = process_class(u)
        procs[c] += 1
        names = held[u.name]
        nodes[c] += len(names)
        for n in names:
            place = by[n].placement
            if place == "on-chip":
                on_chip[c] += 1
            if (c == "host") != (place == "host"):
                misplaced.append(n)
            if c == "custom":
                custom_ops[by[n].op] = custom_ops.get(by[n].op, 0) + 1
            elif c == "host":
                host_ops[by[n].op] = host_ops.get(by[n].op, 0) + 1
        row = {"process": u.name, "class": c, "nodes": len(names)}
        if c == "custom":
            row["program"] = u.program or "all"
            programs[row["program"]] = programs.get(row["program"], 0) + len(names)
        rows.append(row)
    return {"processes": procs, "nodes": nodes,
            "on_chip_nodes": {"stock": on_chip["stock"], "custom": on_chip["custom"]},
            "host_nodes": sum(n.placement == "host" for n in g.nodes),
            "misplaced_nodes": len(misplaced), "misplaced": misplaced[:20],
            "custom_ops": dict(sorted(custom_ops.items())), "custom_programs": dict(sorted(programs.items())),
            "host_ops": dict(sorted(host_ops.items())),
            "per_process": rows}


def summary_line(r: dict) -> str:
    """One line for logs and text reports."""
    p, oc = r["processes"], r["on_chip_nodes"]
    progs = programs_text(r)
    return (f"Lava processes: {p['stock']} stock, {p['custom']} custom, {p['host']} host; on-chip nodes: "
            f"{oc['stock']} in stock processes, {oc['custom']} in custom ones" + (f" ({progs})" if progs else "")
            + f"; {r['host_nodes']} host nodes; {r['misplaced_nodes']} misplaced")


def programs_text(r: dict) -> str:
    """The custom processes' programs and their IR nodes, e.g. ``add 177, nilif 22`` ("" if none)."""
    return ", ".join(f"{k} {v}" for k, v in r.get("custom_programs", {}).items())
