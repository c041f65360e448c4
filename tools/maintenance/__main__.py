import sys

from tools.maintenance.cli import main

sys.exit(main())
