"""HTTP serving with BentoML: `fakeimage serve` runs `fakeimage.serving.service:FakeImageDetector`.

- `service`: the BentoML services (the public API and the model process behind it);
- `predictions`: request-independent logic (configuration, reading uploads within limits,
  verdicts, warnings, response and error bodies), plain functions the tests call directly;
- `gradcam`: Grad-CAM heatmaps and their PNG overlays for `/explain`.

Importing this package is cheap: TensorFlow is loaded only by the model process.
"""
