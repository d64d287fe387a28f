"""Training beside the flow, never inside it: reads public QA data, builds the candidates the
reader sees, fits the reader's models and writes the artifact `rag.ranker` loads.

`python -m training` (or `make model`) runs it. It reads SQuAD 2.0 files, question sets and
the split file through the eval suite (`evals.squad_data`, `evals.dataset`), which imports
nothing of training: the arrows run training → evals → rag.
"""
