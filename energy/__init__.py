"""spikerain.energy"""
