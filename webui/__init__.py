"""The docqa web UI's parts, one job each: `server` (address settings, read before gradio is
imported), `render` (pure presentation), `feedback` (votes on disk), `examples`, `state` (the
`DocQA` the app holds and its warm-up), `handlers` (what each event does) and `layout` (the
page). `ui.py` is the entry point that puts them together."""
