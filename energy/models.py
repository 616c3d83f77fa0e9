"""Named energy models: cited constants as data (``energy/data/energy_models.json``) and the pricing rules.

``load_models(extra)`` reads the shipped table and, optionally, a user's JSON or TOML file with the same two
sections (``constants``: name -> {value, source}; ``models``: name -> rule), which add to or replace shipped
entries. :func:`price` turns one counts record (:meth:`spikerain.counting.plan.EnergyPlan.finish`) into pJ per model,
with components and a per-layer breakdown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import tomllib

from spikerain.errors import InputError

PAPER_RULES = {"sops": ("exact", "rate"), "mac_layers": ("analog", "non-binary")}


@dataclass(frozen=True)
class EnergyTables:
    constants: dict[str, dict]
    models: dict[str, dict]

    def c(self, name: str) -> float:
        return float(self.constants[name]["value"])

    def sources(self) -> dict[str, str]:
        return {k: v["source"] for k, v in self.constants.items()}


def load_models(extra: str | Path | None = None) -> EnergyTables:
    data = json.loads((resources.files("spikerain.energy") / "data" / "energy_models.json").read_text())
    if extra is not None:
        p = Path(extra)
        try:
            text = p.read_text()
            user = tomllib.loads(text) if p.suffix == ".toml" else json.loads(text)
        except (OSError, ValueError) as e:
            raise InputError(f"cannot read energy table {p}: {e}",
                             fix="pass a JSON or TOML file with 'constants' and/or 'models' sections") from e
        if not isinstance(user, dict):
            raise InputError(f"energy table {p} holds a {type(user).__name__}, not sections",
                             fix="write 'constants' and/or 'models' sections")
        for section in ("constants", "models"):
            part = user.get(section, {})
            bad = (None if isinstance(part, dict) else f"is a {type(part).__name__}") or next(
                (f"entry {k!r} is a {type(v).__name__}" for k, v in part.items() if not isinstance(v, dict)), None)
            if bad:
                raise InputError(f"energy table {p}: section '{section}' {bad}, not a table of named entries",
                                 fix=f"write one [{section}.NAME] table per entry (TOML; JSON alike)")
            data[section].update(part)
    tables = EnergyTables(constants=data["constants"], models=data["models"])
    _check(tables, extra)
    return tables


def _check(t: EnergyTables, origin) -> None:
    for name, c in t.constants.items():
        if not isinstance(c, dict) or "value" not in c or not c.get("source"):
            raise InputError(f"energy constant {name!r} needs a value and a source ({origin or 'shipped table'})",
                             fix='write it as {"value": 4.6, "source": "paper, table"}')
        v = c["value"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v < 0 or v == float("inf"):
            raise InputError(f"energy constant {name!r} has value {v!r}, not a finite number >= 0 "
                             f"({origin or 'shipped table'})", fix="give the value in the unit its name says")
    for name, m in t.models.items():
        if m.get("kind") not in ("paper", "loihi", "thop"):
            raise InputError(f"energy model {name!r} has kind {m.get('kind')!r}",
                             fix="use kind 'paper', 'loihi' or 'thop'")
        for key in ("sparsity_constant", "op_constant") if m.get("kind") == "thop" else ():
            if m.get(key) not in t.constants:
                raise InputError(f"energy model {name!r}: {key} must name a constant of the table",
                                 fix="fix the table")
        for key, allowed in PAPER_RULES.items():
            if m.get("kind") == "paper" and m.get(key) not in allowed:
                raise InputError(f"energy model {name!r}: {key} must be one of {allowed}", fix="fix the table")
        for key in ("mac_constant", "ac_constant"):
            if key in m and m[key] not in t.constants:
                raise InputError(f"energy model {name!r}: {key} {m[key]!r} names no constant",
                                 fix=f"define it under constants, or use one of {', '.join(sorted(t.constants))}")


def price(counts: dict, tables: EnergyTables, model: str, mapping=None) -> dict:
    """pJ for one image under ``model``; ``mapping`` (hardware.mapping.Mapping) is needed by the Loihi model."""
    m = tables.models[model]
    if m["kind"] == "thop":
        return _thop(counts, tables, m)
    return _paper(counts, tables, m) if m["kind"] == "paper" else _loihi(counts, tables, mapping, m.get("static"))


def _thop(counts: dict, t: EnergyTables, m: dict) -> dict:
    """The authors' accounting as far as their code shows it: the operations thop sees (plain torch.nn modules
    only) x one global sparsity x one energy per operation."""
    rate, e_op = t.c(m["sparsity_constant"]), t.c(m["op_constant"])
    layers = {k: v["ops"] * rate * e_op for k, v in counts.get("thop", {}).items()}
    ops = sum(v["ops"] for v in counts.get("thop", {}).values())
    return {"total_pj": sum(layers.values()), "components": {"thop_ops": ops, "op_pj": sum(layers.values())},
            "ops": {"thop": ops}, "layers": layers}


def _paper(counts: dict, t: EnergyTables, m: dict) -> dict:
    e_mac = t.c(m.get("mac_constant", "E_MAC_pJ"))
    e_ac = t.c(m.get("ac_constant", "E_AC_pJ"))
    layers, mac_pj, ac_pj, mac_ops, ac_ops = {}, 0.0, 0.0, 0.0, 0.0
    for name, s in counts["synapses"].items():
        sops = sum(s["exact_sops"] if m["sops"] == "exact" else s["rate_flops"])
        if m["mac_layers"] == "analog":
            is_mac, ops = s["analog"], (sum(s["dense_macs"]) if s["analog"] else sops)
        else:  # NeuroBench: any non-binary input is a MAC; effective ops are those on non-zero inputs
            is_mac, ops = not s["binary"], sum(s["exact_sops"])
        e = ops * (e_mac if is_mac else e_ac)
        layers[name] = e
        if is_mac:
            mac_pj, mac_ops = mac_pj + e, mac_ops + ops
        else:
            ac_pj, ac_ops = ac_pj + e, ac_ops + ops
    return {"total_pj": mac_pj + ac_pj, "components": {"mac_pj": mac_pj, "ac_pj": ac_pj},
            "ops": {"mac": mac_ops, "ac": ac_ops}, "layers": layers}


def _loihi(counts: dict, t: EnergyTables, mapping, static: bool = False) -> dict:
    if mapping is None:
        raise ValueError("the Loihi event model needs the core mapping")
    hops = {lay.name: lay.hops_out for lay in mapping.layers}
    mean_hops = sum(hops.values()) / len(hops) if hops else 0.0
    e_syn, e_host = t.c("loihi1_synaptic_op_pJ"), t.c("host_op_pJ")
    e_act, e_inact = t.c("loihi1_neuron_update_active_pJ"), t.c("loihi1_neuron_update_inactive_pJ")
    e_tile, e_hop = t.c("loihi1_spike_within_tile_pJ"), t.c("loihi1_tile_hop_pJ")
    layers: dict[str, float] = {}
    comp = {"synaptic_pj": 0.0, "neuron_pj": 0.0, "spike_routing_pj": 0.0, "host_pj": 0.0, "static_pj": 0.0}
    for name, s in counts["synapses"].items():
        ops = sum(s["exact_sops"])
        e = ops * (e_host if s["placement"] == "host" else e_syn)
        comp["host_pj" if s["placement"] == "host" else "synaptic_pj"] += e
        msgs = sum(s["events"]) * (e_tile + hops.get(name, mean_hops) * e_hop) if s["placement"] != "host" else 0.0
        comp["spike_routing_pj"] += msgs
        layers[name] = e + msgs
    for name, n in counts["neurons"].items():
        active = sum(n["active"])
        e = active * e_act + (sum(n["updates"]) - active) * e_inact
        comp["neuron_pj"] += e
        layers[name] = layers.get(name, 0.0) + e
    for name, o in counts["other"].items():  # on-chip elementwise ops: one compartment update per output
        e = o["ops"] * e_act
        comp["neuron_pj"] += e
        layers[name] = e
    for name, o in counts["host"].items():
        e = o["ops"] * e_host
        comp["host_pj"] += e
        layers[name] = e
    seconds = mapping.steps_per_image * mapping.timestep_latency_ns * 1e-9
    if static:
        comp["static_pj"] = t.c("loihi1_static_power_W") * mapping.chips * seconds * 1e12
    return {"total_pj": sum(comp.values()), "components": comp, "layers": layers,
            "run_seconds": seconds, "chips": mapping.chips}
