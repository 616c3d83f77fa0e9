"""Activity counting, torch-free and Lava-free: what each value's frames cost in events, synaptic operations and
neuron updates (:mod:`.plan`), from the fan-out geometry of each synaptic layer (:mod:`.fanout`).

It sits below every activity source: PyTorch hooks and the fast simulator (``energy.sources``) and the Lava
backend (which receives an :class:`~spikerain.counting.plan.EnergyPlan` as its counter) hand it frames; ``energy``
prices what it counted.
"""
