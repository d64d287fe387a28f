"""Training beside the flow, never inside it: reads public QA data, builds the candidates the
reader sees, fits the reader's models and writes the artifact `rag.ranker` loads.

`python -m training` (or `make model`) runs it; `training.squad` reads SQuAD 2.0 files, which
the eval suite's public benchmark reads too.
"""
