import sys

from autogt.cli import main

sys.exit(main())
