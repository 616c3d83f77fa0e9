"""Interchange formats hanging off the IR (ONNX; netx and NIR to come)."""
