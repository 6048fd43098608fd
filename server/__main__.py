"""`python -m server`: start the hub, or run one of the staff's commands (see --help)."""
import sys

from server.admin import main

sys.exit(main())
