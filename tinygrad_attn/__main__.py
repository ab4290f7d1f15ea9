"""`python -m tinygrad_attn ...` is the `tinygrad-attn` command."""
import sys

from .cli import main

sys.exit(main())
