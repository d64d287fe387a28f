"""The eval suite: question files, metrics, reports and the quality gate (`python -m evals`)."""
