"""Watching the served model: the answer log, the feature summary it keeps, drift reports and
the feedback people send about wrong verdicts. Plain NumPy/SciPy: the service imports it."""
