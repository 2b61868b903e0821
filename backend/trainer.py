"""The training entry point: `python -m backend.trainer --run-dir DIR [--resume]`, also under
`accelerate launch -m backend.trainer --run-dir DIR`. The loop itself is backend.training.trainer."""
import sys

from backend.training.trainer import main

if __name__ == "__main__":
    sys.exit(main())
