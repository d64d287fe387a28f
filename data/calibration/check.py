"""Checks questions.toml against the documents in docs/.

Hard checks (assert): answers and evidence occur verbatim in their document;
each answer lies inside one of its evidence sentences; evidence sentences sit
on sentence boundaries; list shapes per category; ids unique; counts per
document and category; tune/heldout split per document and category.
Run: python3 check.py
"""

import collections
import pathlib
import re
import tomllib

ROOT = pathlib.Path(__file__).resolve().parent
DOCS = ROOT / "docs"
SPEC = {
    "factual": 6,
    "paraphrase": 5,
    "multi_sentence": 3,
    "followup": 3,
    "unanswerable": 6,
    "adversarial": 2,
}
DOC_ORDER = ["leave-policy.md", "heat-pump-manual.txt", "council-minutes.txt", "coral-bleaching.md"]
KEYS = ["id", "document", "category", "split", "question", "history", "answers", "evidence"]
REFERRING = re.compile(
    r"\b(it|its|he|him|his|she|her|they|them|their|that|"
    r"those|these|this|one|ones)\b|^(and|what about)\b",
    re.I,
)


def at_sentence_boundary(text, ev):
    """True if some occurrence of ev starts a sentence and ends one."""
    assert re.search(r"[.?!][\"”]?$", ev), f"evidence does not end a sentence: {ev!r}"
    start = 0
    while (i := text.find(ev, start)) != -1:
        start = i + 1
        before = text[:i].rstrip(' \t"“*')
        after = text[i + len(ev) : i + len(ev) + 1]
        ok_start = (
            before == ""
            or before.endswith("\n")
            or text[i - 1] == "\n"
            or re.search(r"([.?!:][\"”]?|\*\*|^\d+\.)$", before.split("\n")[-1]) is not None
        )
        ok_end = after in ("", " ", "\n", '"', "”")
        if ok_start and ok_end:
            return True
    return False


def main():
    data = tomllib.loads((ROOT / "questions.toml").read_text(encoding="utf-8"))
    assert data["version"] == 1
    qs = data["question"]
    texts = {p.name: p.read_text(encoding="utf-8") for p in DOCS.iterdir()}
    assert sorted(texts) == sorted(DOC_ORDER), sorted(texts)

    ids = [q["id"] for q in qs]
    assert len(ids) == len(set(ids)), "duplicate ids"
    n_strings = 0
    cross_doc = []
    for q in qs:
        qid = q["id"]
        assert list(q) == KEYS, (qid, list(q))
        assert q["document"] in texts, qid
        assert q["category"] in SPEC, qid
        assert q["split"] in ("tune", "heldout"), qid
        text = texts[q["document"]]
        A, E, H = q["answers"], q["evidence"], q["history"]
        for s in A + E:
            assert isinstance(s, str) and s.strip() == s and s, (qid, s)
            assert s in text, f"{qid}: not verbatim in {q['document']}: {s!r}"
            n_strings += 1
        for e in E:
            assert at_sentence_boundary(text, e), f"{qid}: not a whole sentence: {e!r}"
        for a in A:
            assert any(a in e for e in E), f"{qid}: answer {a!r} not inside its evidence"
            for other, t in texts.items():
                if other != q["document"] and a in t:
                    cross_doc.append((qid, a, other))
        cat = q["category"]
        if cat == "unanswerable":
            assert A == [] and E == [] and H == [], qid
        else:
            assert A and E, qid
        if cat == "followup":
            assert len(H) == 1 and H[0].endswith("?"), qid
            assert REFERRING.search(q["question"]), f"{qid}: no pronoun/ellipsis"
        else:
            assert H == [], qid
        if cat == "multi_sentence":
            assert len(E) >= 2 and len(A) >= 2, qid
            assert all(any(a in e for a in A) for e in E), f"{qid}: evidence without an answer part"
        elif cat != "unanswerable":
            assert len(E) == 1, f"{qid}: expected one evidence sentence"

    # counts and splits
    by_doc_cat = collections.defaultdict(list)
    for q in qs:
        by_doc_cat[(q["document"], q["category"])].append(q)
    for di, doc in enumerate(DOC_ORDER):
        for cat, n in SPEC.items():
            items = by_doc_cat[(doc, cat)]
            assert len(items) == n, (doc, cat, len(items))
            k = n // 2 if n % 2 == 0 else (n + 1) // 2 if di % 2 == 0 else n // 2
            want = ["tune"] * k + ["heldout"] * (n - k)
            assert [q["split"] for q in items] == want, (doc, cat)
    assert len(qs) == 100

    # report
    cats = list(SPEC)
    print(
        f"OK: {len(qs)} questions, {n_strings} answer/evidence strings verbatim in their documents"
    )
    print(f"{'category':<16}{'total':>6}{'tune':>6}{'heldout':>8}")
    for c in cats:
        sel = [q for q in qs if q["category"] == c]
        t = sum(q["split"] == "tune" for q in sel)
        print(f"{c:<16}{len(sel):>6}{t:>6}{len(sel) - t:>8}")
    t = sum(q["split"] == "tune" for q in qs)
    print(f"{'all':<16}{len(qs):>6}{t:>6}{len(qs) - t:>8}")
    print()
    for doc in DOC_ORDER:
        words = len(texts[doc].split())
        row = " ".join(f"{c[:5]}={len(by_doc_cat[(doc, c)])}" for c in cats)
        print(f"{doc:<22} {words:>5} words  {row}")
    if cross_doc:
        print("\nanswer strings that also occur in another document (review by hand):")
        for qid, a, other in cross_doc:
            print(f"  {qid}: {a!r} also in {other}")


if __name__ == "__main__":
    main()
