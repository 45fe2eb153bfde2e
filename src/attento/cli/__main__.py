import sys

from attento.cli import main

sys.exit(main())
