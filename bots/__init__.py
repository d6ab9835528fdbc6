"""Adapters: the command line, Discord, Matrix, the HTTP server, and the runtime that wires them."""
