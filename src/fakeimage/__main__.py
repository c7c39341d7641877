import sys

from fakeimage.cli import main

sys.exit(main())
