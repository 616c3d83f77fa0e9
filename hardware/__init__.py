"""spikerain.hardware"""
