"""`python -m training`: fit the reader's models and write rag/models/reader.json.
`python -m training cross-encoder`: fine-tune the cross-encoder (training.cross_encoder).
`python -m training route`: fit how the cross-encoder reads into reader.json (training.route).
`python -m training prune`: which sentence features still add something (training.prune)."""

import sys

# subtle: run through the importable module, so cached examples pickle as training.train.Example
from training.train import main

if sys.argv[1:2] == ["cross-encoder"]:
    from training.cross_encoder import main as cross_encoder

    sys.exit(cross_encoder(sys.argv[2:]))
if sys.argv[1:2] == ["route"]:
    from training.route import main as route

    sys.exit(route(sys.argv[2:]))
if sys.argv[1:2] == ["prune"]:
    from training.prune import main as prune

    sys.exit(prune(sys.argv[2:]))
sys.exit(main())
