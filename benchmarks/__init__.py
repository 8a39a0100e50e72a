"""Scale benchmarks against the tenant emulator: a synthetic tenant generator and the sweep (README.md here)."""
