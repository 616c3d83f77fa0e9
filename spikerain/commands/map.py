"""``spikerain map``: place an artifact's layers on Loihi 1 or Loihi 2 cores for an image size."""

from __future__ import annotations

from spikerain.console import print_json

HELP = "map an artifact onto Loihi cores: cores, chips, synapse memory, host-op share, timestep latency"
EXAMPLE = "spikerain map model.h5 --target loihi2 --size 321 481"


def add_arguments(p) -> None:
    p.add_argument("artifact")
    p.add_argument("--target", default="loihi2", choices=["loihi1", "loihi2"])
    p.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), default=(256, 256))
    p.add_argument("--all", action="store_true", help="list host layers too")
    p.add_argument("--schedule", action="store_true",
                   help="also give the lock-step schedule: every node's first step, frames and Lava process, the "
                        "buffered inputs and the steps per image")


def run(args) -> int:
    from spikerain import checks
    from spikerain.converter.artifact import load_artifact
    from spikerain.converter.ir import size_multiple
    from spikerain.hardware.constraints import load_constraints
    from spikerain.hardware.mapping import map_to_cores
    from spikerain.hardware.sequence import fixed_input

    g = load_artifact(args.artifact)
    if fixed_input(g):  # a dense synapse fixes the input size: --size does not apply
        checks.size_pair(args.size, "--size")
    else:
        # the smallest image the graph maps: every side at least its size multiple (the deepest level is one pixel)
        checks.size_pair(args.size, "--size", minimum=size_multiple(g))
    size = tuple(g.input_shape[2:]) if fixed_input(g) else tuple(args.size)  # fixed: its own size, as mapped
    m = map_to_cores(g, load_constraints(args.target), size)
    sched = _schedule(g, m.padded_size) if args.schedule else None
    if args.json:
        print_json({**m.to_dict(), **({"schedule": sched} if sched else {})})
        return 0
    if sched:
        w = max(len(r["node"]) for r in sched["nodes"])
        print(f"{'node':<{w}}  {'op':<16} {'first step':>10} {'frames':>6}  unit")
        for r in sched["nodes"]:
            print(f"{r['node']:<{w}}  {r['op']:<16} {str(r['first_step']):>10} {str(r['frames']):>6}  {r['unit']}")
        print(f"schedule: {sched['summary']['steps']} steps per image, {sched['summary']['processes']} Lava "
              f"processes {sched['summary']['kinds']}, {len(sched['buffered'])} buffered segment inputs")
    rows = [lay for lay in m.layers if args.all or lay.placement == "on-chip"]
    w = max(len(r.name) for r in rows) if rows else 10
    print(f"{'layer':<{w}}  {'op':<16} {'cores':>6} {'neurons':>9} {'axons in':>8} {'axons out':>9} "
          f"{'syn KiB':>9} {'util':>6}")
    for r in rows:
        print(f"{r.name:<{w}}  {r.op:<16} {r.cores:>6} {r.neurons:>9} {r.fan_in:>8} {r.axons_out:>9} "
              f"{r.synapse_bits / 8192:>9.1f} {r.utilisation:>6.1%}")
    print(f"{m.target}: {m.cores} cores on {m.chips} chip(s) for {m.size[0]}x{m.size[1]} (padded to "
          f"{m.padded_size[0]}x{m.padded_size[1]}); host share of operations {m.host_op_share:.1%}; timestep "
          f"latency <= {m.timestep_latency_ns / 1000:.1f} us; {m.steps_per_image} steps per image "
          f"(<= {m.image_latency_us / 1000:.1f} ms)")
    from spikerain.hardware.realisation import summary_line

    print(summary_line(m.realisation))
    return 0


def _schedule(g, size) -> dict:
    from spikerain.converter import ir
    from spikerain.hardware.schedule import build_schedule, latency_table

    gs = g.with_nodes(g.nodes, input_shape=(*g.input_shape[:2], *size))
    ir.infer_shapes(gs)
    s = build_schedule(gs)
    return {"summary": s.summary(), "buffered": s.buffered(), "nodes": latency_table(gs, s)}
