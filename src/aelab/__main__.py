"""`python -m aelab` is the same as the `aelab` console script."""

from aelab.cli import main

raise SystemExit(main())
