"""`python -m training`: fit the reader's models and write rag/models/reader.json."""

import sys

# subtle: run through the importable module, so cached examples pickle as training.train.Example
from training.train import main

sys.exit(main())
