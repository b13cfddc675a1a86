"""`python -m devstack.demo [--state-dir DIR] [--keep]`."""

import sys

from devstack.demo.run import main

if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # local_stack has stopped everything on the way out
        sys.exit(130)
