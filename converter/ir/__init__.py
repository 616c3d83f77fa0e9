"""spikerain's graph IR: frozen dataclass nodes grouped by family, and the graph. Imports without torch."""

from spikerain.converter.ir import quantized  # noqa: F401  (registers the quantized ops)
from spikerain.converter.ir.graph import (
    Graph,
    format_table,
    graphs_equal,
    infer_shapes,
    shapes_of,
    size_multiple,
    validate,
)
from spikerain.converter.ir.neuron import LIF, NILIF, Neuron
from spikerain.converter.ir.node import OPS, Node, nodes_equal, op_class, register_op
from spikerain.converter.ir.synapse import BatchNorm, Conv2d, Dense, TemporalConv, Upsample2x
from spikerain.converter.ir.tensor import (
    Add,
    Concat,
    DepthToSpace,
    Input,
    MaxPool2d,
    MeanT,
    Mul,
    Output,
    PatchToTime,
    Reduce,
    ReLU,
    RepeatT,
    Reshape,
    Scale,
    Sigmoid,
    Sub,
    TensorInput,
    TimeToPatch,
    Upsample,
)

__all__ = [
    "OPS", "Add", "BatchNorm", "Concat", "Conv2d", "Dense", "Graph", "Input", "LIF", "MeanT", "Mul", "NILIF", "Node",
    "Output", "PatchToTime", "ReLU", "Reduce", "RepeatT", "Scale", "Sigmoid", "Sub", "TemporalConv", "TimeToPatch",
    "Upsample2x", "format_table", "DepthToSpace", "MaxPool2d", "Neuron", "Reshape", "TensorInput", "Upsample",
    "graphs_equal", "infer_shapes", "nodes_equal", "op_class", "register_op", "shapes_of", "size_multiple",
    "validate",
]
