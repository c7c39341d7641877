"""The offline default source: a small CIFAKE-style dataset generated on the spot.

A fresh clone must run its quickstart without network or credentials, so this writes the same
layout and encoding as CIFAKE (`train|test/REAL|FAKE`, 32x32 RGB, JPEG quality 75, 4:2:0):

- REAL images are random square crops of the colour photographs that scikit-image,
  scikit-learn and matplotlib ship, area-averaged down to 32x32 as CIFAR's photos were.
  Train and test crops come from disjoint photographs, so no test crop overlaps a train crop.
- FAKE images are samples from a small convolutional VAE fitted here to the REAL train crops:
  truly machine-generated images, like CIFAKE's diffusion samples, only from a weaker model.

Everything is seeded and TensorFlow runs with op determinism, so the same params give
byte-identical files on the same machine (DVC then sees an unchanged output).
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from fakeimage.config import SyntheticSource
from fakeimage.data.images import IMAGE_SIZE, encode_jpeg
from fakeimage.errors import UserError

PHOTOGRAPHS: tuple[tuple[str, str, str], ...] = (
    # (package, path inside the package, split). The stereo pair stays on one side.
    ("skimage", "data/astronaut.png", "train"),
    ("skimage", "data/coffee.png", "train"),
    ("skimage", "data/motorcycle_left.png", "train"),
    ("skimage", "data/motorcycle_right.png", "train"),
    ("skimage", "data/rocket.jpg", "train"),
    ("skimage", "data/hubble_deep_field.jpg", "train"),
    ("skimage", "data/ihc.png", "train"),
    ("skimage", "data/retina.jpg", "train"),
    ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg", "train"),
    ("skimage", "data/chelsea.png", "test"),
    ("sklearn", "datasets/images/china.jpg", "test"),
    ("sklearn", "datasets/images/flower.jpg", "test"),
)
"""Real colour photographs bundled with installed packages; missing ones are skipped."""

MIN_CROP, MAX_CROP = 40, 200
"""Crop sides in source pixels: from close-ups to wide views, all down-scaled to 32x32."""

MIN_CROP_STD = 3.0
"""Crops flatter than this (pixel std, 0-255) are redrawn: retina's black border is no photo."""

WIDTHS = (32, 64, 128)
"""Encoder filters per stride-2 level (32 -> 16 -> 8 -> 4 px); the decoder mirrors them."""

LATENT_DIM = 32
BATCH_SIZE = 64
LEARNING_RATE = 2e-3


def generate_synthetic(out_dir: Path, params: SyntheticSource) -> dict[str, int]:
    """Write a CIFAKE-layout dataset into out_dir (which exists and is empty); return counts like
    {"train/REAL": n, "train/FAKE": n, "test/REAL": m, "test/FAKE": m}."""
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise UserError(
            f"{out_dir} is not empty: synthetic data is only written to an empty folder"
        )
    started = time.perf_counter()
    # Independent streams, so e.g. the test crops do not change when train_per_class does.
    crop_train, crop_test, fit, prior = (
        np.random.default_rng(s) for s in np.random.SeedSequence(params.seed).spawn(4)
    )
    photos = load_photographs()
    print(
        f"synthetic: cropping {params.train_per_class} train and {params.test_per_class} test "
        f"REAL images from {len(photos['train'])} + {len(photos['test'])} bundled photographs...",
        flush=True,
    )
    real_train = random_crops(photos["train"], params.train_per_class, crop_train)
    real_test = random_crops(photos["test"], params.test_per_class, crop_test)

    print(
        f"synthetic: fitting VAE generator on {len(real_train)} real crops "
        f"({params.generator_epochs} epochs)...",
        flush=True,
    )
    decoder = _fit_vae(real_train, params.generator_epochs, params.seed, fit)
    # Train and test fakes are different draws from the prior, never reconstructions.
    fakes = _sample(decoder, params.train_per_class + params.test_per_class, prior)

    images = {
        "train/REAL": real_train,
        "train/FAKE": fakes[: params.train_per_class],
        "test/REAL": real_test,
        "test/FAKE": fakes[params.train_per_class :],
    }
    counts: dict[str, int] = {}
    for folder, pixels in images.items():
        target = out_dir / folder
        target.mkdir(parents=True, exist_ok=True)
        prefix = folder.split("/")[1].lower()
        for index, image in enumerate(pixels):
            (target / f"{prefix}_{index:05d}.jpg").write_bytes(encode_jpeg(image))
        counts[folder] = len(pixels)
    elapsed = time.perf_counter() - started
    summary = ", ".join(f"{folder} {count}" for folder, count in counts.items())
    print(f"synthetic: wrote {summary} to {out_dir} in {elapsed:.1f} s", flush=True)
    return counts


def load_photographs() -> dict[str, list[Image.Image]]:
    """The bundled photographs that exist here, decoded to RGB, grouped by split."""
    photos: dict[str, list[Image.Image]] = {"train": [], "test": []}
    for package, relative, split in PHOTOGRAPHS:
        # find_spec locates the package folder without importing the package (sklearn is slow).
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        path = Path(next(iter(spec.submodule_search_locations))) / relative
        if path.is_file():
            with Image.open(path) as image:
                photos[split].append(image.convert("RGB"))
    for split, found in photos.items():
        if not found:
            raise UserError(
                f"no bundled {split} photographs found for the synthetic source: "
                "install scikit-image, scikit-learn and matplotlib (pip install -e .)"
            )
    return photos


def random_crops(photos: list[Image.Image], count: int, rng: np.random.Generator) -> np.ndarray:
    """count random square crops, randomly flipped, area-averaged to 32x32: (count, 32, 32, 3)."""
    crops = np.empty((count, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    for index in range(count):
        for _attempt in range(20):  # redraw flat crops; 20 flat ones in a row never happen
            photo = photos[rng.integers(len(photos))]
            width, height = photo.size
            side = int(rng.integers(MIN_CROP, min(MAX_CROP, width, height) + 1))
            left = int(rng.integers(0, width - side + 1))
            top = int(rng.integers(0, height - side + 1))
            small = photo.resize(
                (IMAGE_SIZE, IMAGE_SIZE),
                Image.Resampling.BOX,
                box=(left, top, left + side, top + side),
            )
            pixels = np.asarray(small, dtype=np.uint8)
            if rng.random() < 0.5:
                pixels = pixels[:, ::-1]
            if pixels.std() >= MIN_CROP_STD:
                break
        crops[index] = pixels
    return crops


def _build_encoder() -> keras.Model:
    """32x32x3 -> (mean, log-variance) of q(z|x): stride-2 convolutions down to 4x4."""
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3))
    x = inputs
    for filters in WIDTHS:
        x = keras.layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu")(x)
    stats = keras.layers.Dense(2 * LATENT_DIM)(keras.layers.Flatten()(x))
    mean, log_var = keras.ops.split(stats, 2, axis=-1)
    return keras.Model(inputs, [mean, log_var], name="encoder")


def _build_decoder() -> keras.Model:
    """z -> 32x32x3 pixel logits (sigmoid gives means in [0, 1]): the encoder's mirror image.

    Transposed convolutions use 4x4 kernels with stride 2, which overlap evenly and so avoid
    the checkerboard pattern of 3x3 ones.
    """
    inputs = keras.Input((LATENT_DIM,))
    side = IMAGE_SIZE // 2 ** len(WIDTHS)
    x = keras.layers.Dense(side * side * WIDTHS[-1], activation="relu")(inputs)
    x = keras.layers.Reshape((side, side, WIDTHS[-1]))(x)
    for filters in reversed(WIDTHS[:-1]):
        up = keras.layers.Conv2DTranspose(filters, 4, strides=2, padding="same", activation="relu")
        x = up(x)
    outputs = keras.layers.Conv2DTranspose(3, 4, strides=2, padding="same")(x)
    return keras.Model(inputs, outputs, name="decoder")


def _fit_vae(real: np.ndarray, epochs: int, seed: int, rng: np.random.Generator) -> keras.Model:
    """Fit a VAE to the real crops with a plain GradientTape loop; return its decoder.

    Shuffling and the reparameterisation noise come from the seeded numpy Generator and are fed
    in, so the only randomness inside TensorFlow is the (seeded) weight initialisation.
    """
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    encoder, decoder = _build_encoder(), _build_decoder()
    weights = encoder.trainable_variables + decoder.trainable_variables
    optimizer = keras.optimizers.Adam(LEARNING_RATE)
    shape = (IMAGE_SIZE, IMAGE_SIZE, 3)

    @tf.function(
        input_signature=[
            tf.TensorSpec((None, *shape), tf.float32),
            tf.TensorSpec((None, LATENT_DIM), tf.float32),
        ]
    )
    def train_step(x: tf.Tensor, noise: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            mean, log_var = encoder(x, training=True)
            z = mean + tf.exp(0.5 * log_var) * noise
            logits = decoder(z, training=True)
            # Negative ELBO per image: Bernoulli NLL summed over pixels + KL(q || N(0, I)).
            nll = tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits)
            kl = -0.5 * (1 + log_var - tf.square(mean) - tf.exp(log_var))
            loss = tf.reduce_mean(tf.reduce_sum(nll, axis=[1, 2, 3]) + tf.reduce_sum(kl, axis=1))
        optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights, strict=True))
        return loss

    data = real.astype(np.float32) / 255.0
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(data))
        total = 0.0
        for start in range(0, len(data), BATCH_SIZE):
            batch = data[order[start : start + BATCH_SIZE]]
            noise = rng.standard_normal((len(batch), LATENT_DIM), dtype=np.float32)
            total += float(train_step(batch, noise)) * len(batch)
        if epoch == epochs or epoch % 10 == 0:
            loss_per_pixel = total / len(data) / (IMAGE_SIZE * IMAGE_SIZE * 3)
            print(f"synthetic: epoch {epoch}/{epochs} loss {loss_per_pixel:.4f}", flush=True)
    return decoder


def _sample(decoder: keras.Model, count: int, rng: np.random.Generator) -> np.ndarray:
    """Decode count draws z ~ N(0, I) from the prior into uint8 images: (count, 32, 32, 3)."""
    z = rng.standard_normal((count, LATENT_DIM), dtype=np.float32)
    logits = [decoder(z[start : start + 256], training=False) for start in range(0, count, 256)]
    pixels = tf.sigmoid(tf.concat(logits, axis=0)).numpy()
    return np.clip(np.rint(pixels * 255.0), 0, 255).astype(np.uint8)
