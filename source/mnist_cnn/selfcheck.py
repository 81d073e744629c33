"""Students' self-checks for the MNIST CNN lesson: fast, readable, nothing hidden.

This file is released with the assignment (``release/mnist_cnn/selfcheck.py``)
and imported by the notebook's visible check cells, with ``model_check.py``
beside it. It knows only what the lesson's text states. It never trains, and
it imports only NumPy, the standard library and, to display its table,
IPython; a check takes well under a second.

``check_model(model, "cnn")`` shows a per-layer table of the student's model
against the lesson's (HTML in JupyterLab, plain text elsewhere), highlights the
first difference with a hint and raises ``AssertionError`` naming it: it is
``model_check.py``'s, which ``graders selfcheck mnist_cnn`` generates from the
reference record (each layer's type and configuration, the total parameter
counts). ``check_shapes`` and ``check_scaling`` check the preprocessed images.
"""

from __future__ import annotations

from model_check import (  # noqa: F401 (the notebook's checks import them from here)
    CONFIG_KEYS,
    LESSON,
    SHOWN,
    TF_ACTIVATIONS,
    Layer,
    ModelCheck,
    Row,
    _normalized,
    align,
    check_model,
    compare,
    found_layers,
    output_shape,
)

INPUT_SHAPE = (28, 28, 1)


def type_in_words(type_name: str) -> str:
    """A type's module-qualified name in words: "a TensorFlow tensor (EagerTensor)", "a list", "Series (from
    pandas)". The graders name the types of a student's exported values with it too."""
    module, _, name = type_name.rpartition(".")
    if module.startswith("tensorflow"):
        return f"a TensorFlow tensor ({name})"
    return f"a {name}" if module == "builtins" else f"{name} (from {module.split('.')[0]})"


def _kind(value) -> str:
    return type_in_words(f"{type(value).__module__}.{type(value).__qualname__}")


def _array_problem(name: str, images, count: int) -> str | None:
    import numpy as np

    if not isinstance(images, np.ndarray):
        how = f"{name}.numpy()" if type(images).__module__.startswith("tensorflow") else f"np.asarray({name})"
        return f"{name} should be a NumPy array, found {_kind(images)}: convert it with {name} = {how}"
    if images.shape == (count, *INPUT_SHAPE):
        return None
    if images.shape == (count, 28, 28):
        return f"{name} has shape {images.shape}: add the channel axis with .reshape((len({name}), 28, 28, 1))"
    if images.shape == (count, 784):
        return f"{name} has shape {images.shape}: it is flattened; reshape it to ({count}, 28, 28, 1)"
    if images.size == count * 784:
        return f"{name} has shape {images.shape}: reshape it to ({count}, 28, 28, 1), one image per row"
    return (f"{name} has shape {images.shape}, expected ({count}, 28, 28, 1): re-run the data cell, then "
            "preprocess once")


def check_shapes(train_images, test_images, train_labels, test_labels) -> None:
    """Both arrays are NumPy arrays of shape (N, 28, 28, 1) and dtype float32, one image per label."""
    for name, images, labels in (("train_images", train_images, train_labels),
                                 ("test_images", test_images, test_labels)):
        problem = _array_problem(name, images, len(labels))
        assert problem is None, problem
        assert str(images.dtype) == "float32", (
            f"{name} is {images.dtype}, expected float32: convert with .astype(\"float32\")"
            + (" (float64 takes twice the memory and is slower)" if str(images.dtype) == "float64" else ""))
    print("shapes and dtype look right: (N, 28, 28, 1) float32")


def check_scaling(train_images, test_images) -> None:
    """Pixel values are scaled once to [0, 1], whatever the array's type, dtype or shape (``check_shapes``
    judges those)."""
    import numpy as np

    for name, images in (("train_images", train_images), ("test_images", test_images)):
        try:
            values = np.asarray(images, dtype=np.float64)
        except (TypeError, ValueError):
            raise AssertionError(f"{name} should hold the images' pixel values, found {_kind(images)}") from None
        assert values.size, f"{name} is empty: re-run the data cell, then the preprocessing cell"
        low, high = float(values.min()), float(values.max())
        assert high <= 1.0, (
            f"{name} has values up to {high:g}: divide by 255 to scale the pixels to [0, 1]")
        assert low >= 0.0, f"{name} has values down to {low:g}: pixels should be in [0, 1]"
        assert high > 1 / 255 + 1e-6, (
            f"{name} has values only up to {high:g}: it was divided by 255 twice; re-run the data cell, "
            "then the preprocessing cell once")
    print("values are in [0, 1]")
