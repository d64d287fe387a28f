"""The Chroma index: the derived records of rag.indexing, saved as generations.

A generation is four collections (documents, chunks, sentences, clauses) named
`<collection>-g<N>-<kind>`; a fifth, `<collection>-live`, names the generation being served
in its metadata, with the fingerprint of what shaped it and its row counts. A build writes a
whole new generation beside the live one and switches the pointer only when it is complete,
then drops the old one: a build killed half way leaves the previous generation serving. The
same code runs on an embedded index (`index_dir/chroma`) and on a Chroma server.

Damage is proven, never assumed: rows that disagree with the pointer's counts, or a database
file SQLite cannot read. A bad setting, a permission problem or an unreachable server is
reported as what it is and deletes nothing; so is a full disk, after the half-written
generation is removed.

Whether anything changed is found without the writer lock, so answering never waits for a
writer and a read-only index answers; the lock is taken only to write.

The modules, each a step down: `store` (the `Store`: sync, serve, hold), `plan` (what a
sync has to do, and its report), `generations` (the pointer; reading, writing and removing a
generation; its serving tables), `rows` (records to rows and back; rows fetched by id),
`chroma` (the client, retries, the writer's lock, SQLite work in a child process) and
`failures` (errors classified and reported; the full-disk note).
"""

from rag.store.plan import IndexReport
from rag.store.store import Store

__all__ = ["IndexReport", "Store"]
