"""Pipeline stages: thin commands that read params, call library functions, write outputs.

Each module has `run(params)`, called by `fakeimage stage NAME` (what dvc.yaml runs).
"""
