"""Capacity benchmark for the Sentra Tunnel Server: `python -m bench.run [--quick] [--soak S]`."""
