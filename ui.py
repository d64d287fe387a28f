"""The docqa web UI: a chat about the source documents, with the cited spans highlighted.

Run it with `make run` or `python ui.py`; it serves http://127.0.0.1:7860 unless
GRADIO_SERVER_NAME / GRADIO_SERVER_PORT say otherwise. The UI only presents: every answer
comes from the app's own `DocQA`, and every string shown is escaped first. The parts live in
the `webui` package, one job each; this module checks the settings and starts them.
"""

from __future__ import annotations

import logging
import os
import sys

from rag.errors import DocQAError
from webui.server import check_can_serve, server_address

# Set before gradio is imported (it reads them at import time): no analytics, offline.
QUIET_ENVIRONMENT = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
}


def main() -> int:
    """Serve the UI at once and warm the model and the index behind it, until interrupted."""
    logging.basicConfig(level=logging.WARNING, format="docqa-ui: %(levelname)s: %(message)s")
    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets itself to DEBUG on import
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    try:
        host, port = server_address(os.environ)  # before gradio reads them
        check_can_serve(host, port)
        from rag.documents import describe_skipped, load_collection
        from rag.settings import Settings

        settings = Settings.from_env()
        sources = load_collection(settings)
    except DocQAError as error:
        print(f"docqa: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130

    import gradio as gr

    from webui.examples import load_examples
    from webui.feedback import FeedbackLog
    from webui.handlers import Handlers
    from webui.layout import CSS, HEAD_JS, build_app
    from webui.state import AppState

    documents = {document.doc_id: document for document in sources.documents}
    state = AppState(
        settings=settings,
        documents=documents,
        feedback=FeedbackLog(settings.feedback_path),
        skipped=sources.skipped,
        examples=load_examples(documents),
    )
    print("docqa: loading the model and the index in the background…", flush=True)
    state.start_warm_up()
    if sources.skipped:
        print(f"docqa: {describe_skipped(sources.skipped)}", flush=True)
    app = build_app(Handlers(state))
    app.queue(default_concurrency_limit=8)
    try:
        app.launch(
            server_name=host,
            server_port=port,
            share=False,
            quiet=True,
            prevent_thread_lock=True,
            show_error=False,
            css=CSS,
            max_file_size=f"{settings.max_file_mb}mb",
            head=HEAD_JS,
            theme=gr.themes.Default(primary_hue="blue"),
        )
    except OSError as error:
        print(f"docqa: cannot serve on {host}:{port}: {error}", file=sys.stderr)
        return 1
    print(f"docqa is serving: open http://{host}:{port}", flush=True)
    app.block_thread()
    return 0


if __name__ == "__main__":
    sys.exit(main())
