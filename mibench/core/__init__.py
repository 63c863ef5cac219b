"""Core types every stage shares: the estimator/task interface, the name registry and the RNG
streams. Imports nothing else of mibench."""
