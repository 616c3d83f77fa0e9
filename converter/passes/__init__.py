"""Graph passes: pure functions Graph -> Graph."""
