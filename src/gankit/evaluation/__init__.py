"""Offline evaluation: domain-classifier feature networks (`classifier`), pure metrics (`metrics`), and the
scoring of runs and real data with a written protocol (`evaluate`). `gankit.evaluate(run)` is the entry point."""
