"""A packaged detector, without TensorFlow: what serving, the CLI and the page load.

card.py (the typed card), folder.py (its files), scoring.py, onnx_runtime.py, uncertainty.py,
verdict.py, markdown.py.
"""
