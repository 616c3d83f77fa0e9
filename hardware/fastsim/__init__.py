"""The fast simulator: executes IR graphs on whole images with torch (the one part of hardware/ that needs it).

``float_kernels`` runs the float IR (a check of the frontend against the PyTorch model, and the reference the
quantized graph is measured against).
"""
