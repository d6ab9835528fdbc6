"""The ``wavepool`` command line."""
