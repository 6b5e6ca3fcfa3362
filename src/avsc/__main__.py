"""``python -m avsc``."""

from avsc.cli import main

raise SystemExit(main())
