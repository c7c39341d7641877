"""Speed benchmarks (`make bench`): measured, printed, never asserted in the test suite."""
