"""Wavepool's platform-free core: model, errors, ports, services and commands."""
