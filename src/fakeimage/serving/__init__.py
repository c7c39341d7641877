"""HTTP serving with BentoML: `fakeimage serve` runs `fakeimage.serving.service:FakeImageDetector`.

- `service`: the BentoML services (the public API and the model process behind it);
- `settings`: the FAKEIMAGE_* environment variables, typed;
- `uploads`: reading uploads in memory within limits, into the model's input;
- `schemas`: the answers, as published in the OpenAPI document and validated by the page;
- `errors`: the one error shape; `guard`: the middleware that bounds and checks requests;
- `bento_store`: the served model in BentoML's model store;
- `launch`: what `fakeimage serve`, `bento` and `predict` do first (store the model, export
  a missing ONNX graph in a child process), without TensorFlow;
- `explain`: occlusion-sensitivity maps and their PNG overlays.

Neither server process imports TensorFlow or Keras: models are scored by ONNX Runtime
(`fakeimage.detector.onnx_runtime`).
"""
