"""HTTP serving with BentoML: `fakeimage serve` runs `fakeimage.serving.service:FakeImageDetector`.

- `service`: the BentoML services (the public API and the model process behind it);
- `predictions`: request-independent logic (configuration, reading uploads within limits,
  verdicts, warnings, response and error bodies), plain functions the tests call directly;
- `bento_store`: the served model in BentoML's model store;
- `explain`: occlusion-sensitivity maps and their PNG overlays for `/explain`.

Neither server process imports TensorFlow or Keras: models are scored by ONNX Runtime
(`fakeimage.models.onnx_runtime`).
"""
