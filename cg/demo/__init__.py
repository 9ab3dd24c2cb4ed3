"""``cg demo``: a web page to try a trained run in a browser (Gradio, an optional dependency).

* :mod:`cg.demo.run` — :func:`open_run` (the checkpoint, its generators, the model card); no
  Gradio
* :mod:`cg.demo.examples` — :func:`write_examples` (validation images, or built-in ones)
* :mod:`cg.demo.page` — :func:`serve`: the page itself, the only module that imports Gradio
* :mod:`cg.demo.browser` — the page driven from outside: ``cg demo`` in its own process,
  headless Chromium (for the screenshot and the tests)
* :mod:`cg.demo.screenshot` — ``python -m cg.demo.screenshot RUN OUT.png``: the README's picture
"""
