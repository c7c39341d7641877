"""FakeImageDetector: tell AI-generated images from real photographs (CIFAKE)."""

import os

QUIET_ENVIRONMENT = {
    "DVC_NO_ANALYTICS": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "BENTOML_DO_NOT_TRACK": "True",
    "DO_NOT_TRACK": "1",
    "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}
"""The project's own settings: no usage telemetry from the tools it drives, no TensorFlow
start-up chatter. Set for this process and its children; processes that do not import the
package (the `dvc` command, the MLflow UI) get them from the Makefile."""

for _name, _value in QUIET_ENVIRONMENT.items():
    os.environ.setdefault(_name, _value)

__version__ = "0.1.0"
