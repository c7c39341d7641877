"""`make bench`: every benchmark in turn, each printing its own table.

Speed targets live here, not in the test suite: numbers depend on the machine and its load.
"""

import sys

from benchmarks import cli, reference_epoch, serving, train_throughput


def main() -> None:
    """The training benchmarks take no options; the rest go to the serving benchmark."""
    train_throughput.main([])
    reference_epoch.main([])
    cli.main([])
    serving.main(sys.argv[1:])


if __name__ == "__main__":
    main()
