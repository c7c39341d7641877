"""`make bench`: every benchmark in turn, each printing its own table.

Speed targets live here, not in the test suite: numbers depend on the machine and its load.
"""

import sys

from benchmarks import reference_epoch, serving, train_throughput


def main() -> None:
    passthrough = sys.argv[1:]
    sys.argv = [sys.argv[0]]
    train_throughput.main()
    reference_epoch.main()
    sys.argv = [sys.argv[0], *passthrough]
    serving.main()


if __name__ == "__main__":
    main()
