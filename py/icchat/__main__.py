import sys

from icchat.cli import main

sys.exit(main())
