"""LightGBM's tree models evaluated with NumPy alone, from the text LightGBM saves.

Answering needs only predictions, and `import lightgbm` (which brings scikit-learn with it
where that is installed) was a third of `docqa ask`'s start. The rules are LightGBM's own
(`include/LightGBM/tree.h`): a numerical split sends a value left when it is at most the
threshold, a missing one by the split's default direction; a categorical split sends a code
left when its bit is set; a binary model's output is the sigmoid of the trees' sum. A test
checks that predictions equal `lightgbm.Booster.predict` on every shipped model.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np

_CATEGORICAL = 1  # decision_type bits: categorical split
_DEFAULT_LEFT = 2  # a missing value goes left
_MISSING_SHIFT = 2  # bits 2-3: what counts as missing (0 none, 1 zero, 2 NaN)
_MISSING_ZERO, _MISSING_NAN = 1, 2
_ZERO = 1e-35  # LightGBM's kZeroThreshold: a value this close to 0 is zero


@dataclass(frozen=True)
class Forest:
    """Every tree of a model as flat arrays over all their nodes. A child below 0 is a leaf:
    leaf number -child - 1 of `leaf_value`."""

    feature: np.ndarray  # int64, per node
    threshold: np.ndarray  # float64, per node (for a categorical split: its bitset number)
    decision: np.ndarray  # int64, per node: LightGBM's decision_type
    left: np.ndarray  # int64, per node: the global node (or encoded leaf) on the left
    right: np.ndarray  # int64
    roots: np.ndarray  # int64, per tree: its first node, or its only leaf encoded
    leaf_value: np.ndarray  # float64, every tree's leaves
    bitsets: tuple[np.ndarray, ...]  # uint32 words of each categorical split's set
    sigmoid: float  # the binary objective's scale; 0 for a raw (regression) output

    def raw(self, rows: np.ndarray) -> np.ndarray:
        """The sum of every tree's leaf for each row."""
        rows = np.asarray(rows, dtype=np.float64)
        count = len(rows)
        at = np.tile(self.roots, (count, 1))  # (rows, trees): where each row is in each tree
        row_of = np.repeat(np.arange(count), len(self.roots)).reshape(count, -1)
        while (inside := at >= 0).any():
            nodes, which = at[inside], row_of[inside]
            values = rows[which, self.feature[nodes]]
            at[inside] = np.where(
                self._goes_left(nodes, values), self.left[nodes], self.right[nodes]
            )
        return self.leaf_value[-at - 1].sum(axis=1)

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """What `lightgbm.Booster.predict` returns: probabilities for a binary model."""
        raw = self.raw(rows)
        if self.sigmoid:
            return 1.0 / (1.0 + np.exp(-self.sigmoid * raw))
        return raw

    def _goes_left(self, nodes: np.ndarray, values: np.ndarray) -> np.ndarray:
        decision = self.decision[nodes]
        threshold = self.threshold[nodes]
        missing_type = (decision >> _MISSING_SHIFT) & 3
        default_left = (decision & _DEFAULT_LEFT) != 0
        nan = np.isnan(values)
        # Numerical: NaN counts as 0 unless NaN is the split's missing value.
        numbers = np.where(nan & (missing_type != _MISSING_NAN), 0.0, values)
        missing = ((missing_type == _MISSING_ZERO) & (np.abs(numbers) <= _ZERO)) | (
            (missing_type == _MISSING_NAN) & nan
        )
        with np.errstate(invalid="ignore"):
            left = np.where(missing, default_left, numbers <= threshold)
        categorical = (decision & _CATEGORICAL) != 0
        if categorical.any():
            left[categorical] = self._in_set(
                threshold[categorical].astype(np.int64), values[categorical]
            )
        return left

    def _in_set(self, sets: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Whether each categorical value's code is in its split's set (NaN, negative and
        codes past the set never are)."""
        table = self.categories
        codes = np.where(np.isnan(values), -1, values).astype(np.int64)
        known = (codes >= 0) & (codes < table.shape[1])
        return known & table[sets, np.clip(codes, 0, table.shape[1] - 1)]

    @functools.cached_property
    def categories(self) -> np.ndarray:
        """bool (categorical split, code): the bitsets unpacked, for lookups by array."""
        width = 32 * max((len(words) for words in self.bitsets), default=1)
        table = np.zeros((max(len(self.bitsets), 1), width), dtype=bool)
        for at, words in enumerate(self.bitsets):
            bits = np.unpackbits(words.astype("<u4").view(np.uint8), bitorder="little")
            table[at, : len(bits)] = bits.astype(bool)
        return table


def parse(model: str) -> Forest:
    """The forest of a LightGBM model saved as text (`Booster.model_to_string()`)."""
    header, _, body = model.partition("\nTree=")
    sigmoid = 0.0
    for line in header.splitlines():
        if line.startswith("objective=") and "binary" in line:
            sigmoid = float(line.split("sigmoid:")[1].split()[0]) if "sigmoid:" in line else 1.0
    columns: dict[str, list] = {name: [] for name in ("feature", "threshold", "decision")}
    columns |= {"left": [], "right": [], "roots": [], "leaves": []}
    bitsets: list[np.ndarray] = []
    for tree in ("Tree=" + body).split("end of trees")[0].split("\nTree="):
        _add_tree(
            dict(line.split("=", 1) for line in tree.splitlines() if "=" in line), columns, bitsets
        )
    return Forest(
        feature=np.array(columns["feature"], dtype=np.int64),
        threshold=np.array(columns["threshold"], dtype=np.float64),
        decision=np.array(columns["decision"], dtype=np.int64),
        left=np.array(columns["left"], dtype=np.int64),
        right=np.array(columns["right"], dtype=np.int64),
        roots=np.array(columns["roots"], dtype=np.int64),
        leaf_value=np.array(columns["leaves"], dtype=np.float64),
        bitsets=tuple(bitsets),
        sigmoid=sigmoid,
    )


def _add_tree(fields: dict[str, str], columns: dict[str, list], bitsets: list[np.ndarray]) -> None:
    """Append one tree's nodes, leaves and categorical sets, their numbers made global."""
    node_base, leaf_base, set_base = len(columns["feature"]), len(columns["leaves"]), len(bitsets)
    columns["leaves"].extend(float(value) for value in fields["leaf_value"].split())
    if int(fields["num_leaves"]) == 1:
        columns["roots"].append(-leaf_base - 1)
        return

    def numbers(name: str) -> list[int]:
        return [int(value) for value in fields[name].split()]

    kinds = numbers("decision_type")
    cuts = [float(value) for value in fields["threshold"].split()]
    if int(fields.get("num_cat", "0")):
        bounds = numbers("cat_boundaries")
        words = np.array(fields["cat_threshold"].split(), dtype=np.uint32)
        bitsets.extend(words[a:b] for a, b in itertools.pairwise(bounds))
    columns["roots"].append(node_base)
    columns["feature"].extend(numbers("split_feature"))
    # A categorical split's threshold numbers its bitset within the tree: make it global.
    columns["threshold"].extend(
        cut + set_base if kind & _CATEGORICAL else cut
        for kind, cut in zip(kinds, cuts, strict=True)
    )
    columns["decision"].extend(kinds)
    for side in ("left", "right"):
        columns[side].extend(
            child + node_base if child >= 0 else child - leaf_base
            for child in numbers(f"{side}_child")
        )
