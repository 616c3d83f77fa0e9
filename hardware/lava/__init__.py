"""spikerain.hardware.lava"""
