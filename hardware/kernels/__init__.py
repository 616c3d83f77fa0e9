"""Integer semantics of every quantized op, defined once as plain numpy kernels (torch-free).

The fast simulator (torch) and the Lava ProcessModels are held to these kernels.
"""
