"""The control socket: how the ``wavepool`` command line reaches the running instance."""
