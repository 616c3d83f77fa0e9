"""spikerain.converter"""
