"""``cg demo``: a Gradio page to try a trained run (:mod:`cg.demo.run`) in a browser.

Gradio is imported here only, inside the functions that build and serve the page: it is a
heavy optional dependency (``pip install -e '.[demo]'``), and every other ``cg`` command must
start fast, and work, without it.

The page touches no pixel itself. An upload reaches :meth:`DemoRun.translate` as the file the
browser sent (``preprocess=False``: Gradio neither decodes nor converts it), and the outputs go
back as the PNG files it wrote (served byte for byte), so they are ``cg translate``'s PNGs. A
drawing (edge-map datasets) arrives as the PNG Gradio flattens on white. Bad files are
refused with a sentence in the status line (:func:`cg.demo.run.upload_problem`); the server
keeps serving.

Offline by construction: no analytics (``analytics_enabled=False`` and
``GRADIO_ANALYTICS_ENABLED=False``), no share link, no server-side rendering, a theme of
system fonts (no web fonts), no footer links; the page loads only from the address it is
served on.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from cg.demo.examples import Examples, write_examples
from cg.demo.run import DemoRun, card, open_run, upload_problem
from cg.errors import UserError

#: Bigger uploads are refused by the server before they are stored.
MAX_UPLOAD = "64mb"
_INSTALL = "pip install -e '.[demo]'"
#: The height of the input and output images on the page (small ones are enlarged, pixelated).
IMAGE_HEIGHT = 256
_CSS = ".cg-image img { object-fit: contain !important; image-rendering: pixelated; }"


def import_gradio() -> Any:
    """Gradio, imported now (see the module docstring); a UserError saying how to install it."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # read by gradio on import
    try:
        import gradio  # here only: heavy and optional, and `cg` must start fast without it
    except ImportError:
        raise UserError(
            f"cg demo needs Gradio, an optional dependency; install it with {_INSTALL}"
        ) from None
    return gradio


def build_page(run: DemoRun, examples: Examples, workdir: Path) -> Any:
    """The page (a ``gradio.Blocks``), in three columns: the input (an upload, and a sketchpad
    for a domain that is drawn) with the examples; one output per direction the run has; the
    model card. Outputs are written under ``workdir``."""
    gr = import_gradio()
    directions = list(run.generators)
    drawn = run.dataset.drawn if run.dataset else None

    def show(path: str | None, name: str) -> list[Any]:
        """Outputs for the image file ``path``: one PNG per direction, then the status."""
        if not path:
            return [None] * len(directions) + [""]
        try:
            problem = upload_problem(Path(path), name)
            if problem is None:
                written = run.translate(Path(path), workdir)
                return [str(written[d]) for d in directions] + [f"translated {name}"]
        except (OSError, UserError) as e:  # gone from the cache, or undecodable after all
            problem = f"{name}: {e}; upload it again, or another image"
        return [None] * len(directions) + [f"**error:** {problem}"]

    def on_upload(value: dict[str, Any] | None) -> list[Any]:
        if not value or not value.get("path"):
            return show(None, "")
        return show(value["path"], value.get("orig_name") or Path(value["path"]).name)

    def on_drawing(value: dict[str, Any] | None) -> list[Any]:
        composite = (value or {}).get("composite")
        if not composite:
            return [None] * len(directions) + ["**error:** draw something first"]
        return show(composite, "your drawing")

    with gr.Blocks(title=f"cg demo: {run.name}", analytics_enabled=False) as page:
        gr.Markdown(f"## cg demo: {run.name}")
        with gr.Row():
            with gr.Column():  # the input, and examples to start from
                with gr.Tabs():
                    with gr.Tab("Upload an image"):
                        upload = gr.Image(
                            type="filepath",
                            image_mode=None,
                            sources=["upload"],
                            label="input image",
                            height=IMAGE_HEIGHT,
                            elem_id="input",
                            elem_classes=["cg-image"],
                        )
                    if drawn is not None:
                        with gr.Tab(f"Draw {run.domain(drawn)}"):
                            sketch = _sketchpad(gr, max(256, run.cfg.image_size))
                            draw = gr.Button("Translate the drawing", elem_id="translate-drawing")
                for domain, files in examples.by_domain().items():
                    gr.Examples(
                        examples=[[str(f)] for f in files],
                        inputs=[upload],
                        examples_per_page=len(files),
                        label=f"Examples of {run.domain(domain)} (click one)",
                    )
            with gr.Column():  # its translations
                status = gr.Markdown("upload an image, or click an example", elem_id="status")
                outputs = [
                    gr.Image(
                        type="filepath",
                        format="png",
                        label=run.direction_label(d),
                        interactive=False,
                        height=IMAGE_HEIGHT,
                        buttons=["download", "fullscreen"],
                        elem_id=f"output-{d}",
                        elem_classes=["cg-image"],
                    )
                    for d in directions
                ]
            with gr.Column():
                gr.Markdown(card(run, examples.source), elem_id="card")
        results = [*outputs, status]
        upload.change(on_upload, inputs=[upload], outputs=results, preprocess=False)
        if drawn is not None:
            draw.click(on_drawing, inputs=[sketch], outputs=results)
    return page


def _sketchpad(gr: Any, side: int) -> Any:
    """A white ``side`` x ``side`` canvas with a thin black brush; its drawing arrives as a
    PNG flattened on white."""
    return gr.Sketchpad(
        type="filepath",
        image_mode="RGB",
        format="png",
        canvas_size=(side, side),
        brush=gr.Brush(
            colors=["#000000"],
            default_color="#000000",
            color_mode="fixed",
            default_size=max(1, side // 128),
        ),
        label="black strokes on white",
        elem_id="sketch",
    )


def theme() -> Any:
    """Gradio's default theme in the system's fonts: its web fonts are not fetched."""
    gr = import_gradio()
    return gr.themes.Default(
        font=["system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"],
        font_mono=["ui-monospace", "Menlo", "Consolas", "monospace"],
    )


def serve(run_path: str | Path, host: str = "127.0.0.1", port: int = 7860, device: str = "auto"):
    """Serve the page of ``run_path`` (a run folder or a checkpoint) until Ctrl-C or SIGTERM;
    prints its URL. The page's temporary folder (outputs, examples) is removed on the way out."""
    if not 1 <= port <= 65535:
        raise UserError(f"--port {port} must be between 1 and 65535")
    run = open_run(run_path, device)
    import_gradio()  # before any work that would be lost: the missing dependency is one line
    workdir = Path(tempfile.mkdtemp(prefix="cg-demo-"))
    try:
        page = build_page(run, write_examples(run, workdir / "examples"), workdir)
        _launch_and_wait(page, host, port, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def launch(page: Any, host: str, port: int, workdir: Path) -> str:
    """Start serving ``page`` in the background (offline: see the module docstring); returns
    its URL. A UserError when the port is taken."""
    try:
        page.launch(
            server_name=host,
            server_port=port,
            share=False,
            inbrowser=False,
            prevent_thread_lock=True,
            quiet=True,
            show_error=False,
            ssr_mode=False,
            mcp_server=False,
            enable_monitoring=False,
            footer_links=[],
            allowed_paths=[str(workdir)],
            max_file_size=MAX_UPLOAD,
            theme=theme(),
            css=_CSS,
        )
    except OSError as e:
        raise UserError(
            f"cannot listen on {host} port {port} ({str(e).split('. ')[0]}); choose another "
            "--port, or stop what uses it"
        ) from None
    return page.local_url


def _launch_and_wait(page: Any, host: str, port: int, workdir: Path) -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _interrupt)
    url = launch(page, host, port, workdir)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {host}, reachable from other machines", file=sys.stderr)
    print(f"cg demo: {url}  (press Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("stopping", flush=True)
    finally:
        page.close()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the server as Ctrl-C does
