import sys

from nairrcore.cli import main

sys.exit(main())
