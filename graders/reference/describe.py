"""What a reference run records of the objects a test cell reads: models as layer tables, plain values as JSON.

Runs in the checker (``graders.grade.checker``) when the engine grades the
instructor's own notebook for ``graders reference``: each autograded test
cell's objects, as brought across from the kernel, are described before the
cell runs. Arrays, functions and anything else that is not a Keras model or a
plain value are not recorded (the tests compute those from the grader's data).
"""

from __future__ import annotations

import importlib
import json
import numbers
import sys

from graders.architecture import CONFIG_KEYS, _normalized, describe_model

MAX_VALUE_CHARS = 10_000  # a recorded value's JSON: answers, not data


def _plain(value):
    """``value`` as JSON data (NumPy scalars as Python numbers), or None when it is not plain data."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple)):
        items = [_plain(item) for item in value]
        plain = all(item is not None or original is None for item, original in zip(items, value, strict=True))
        return items if plain else None
    return None


def json_form(value):
    """Tuples as lists, recursively: how a value reads back from the record (and how answers compare with it)."""
    if isinstance(value, (list, tuple)):
        return [json_form(item) for item in value]
    return value


def describe_layers(model, input_shape: tuple | None = None) -> dict:
    """A Keras model's record: ``input_shape`` (one example's, or None) and each layer (InputLayer excluded) as
    ``{type, output_shape, params, activation, padding, config}``, ``config`` holding the settings the
    architecture checks read (filters, units, kernel_size, pool_size, activation, padding, strides, ...).
    ``input_shape`` builds a model without an ``Input`` (``describe_model``)."""
    try:
        inputs = getattr(model, "inputs", None)
        input_shape = list(inputs[0].shape[1:]) if inputs else list(input_shape) if input_shape else None
    except (AttributeError, ValueError, IndexError):  # a Sequential model that was never built
        input_shape = list(input_shape) if input_shape else None
    rows = describe_model(model, tuple(input_shape) if input_shape else None)
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    described = []
    for row, layer in zip(rows, layers, strict=True):
        try:
            config = layer.get_config()
        except Exception:  # noqa: BLE001 (a custom layer: its type and shapes only)
            config = {}
        settings = {key: json_form(_normalized(key, config[key])) for key in CONFIG_KEYS if key in config}
        if "rate" in config:  # Dropout's
            settings["rate"] = config["rate"]
        described.append({"type": row.type, "output_shape": json_form(row.output_shape), "params": row.params,
                          "activation": row.activation, "padding": row.padding, "config": settings})
    return {"input_shape": input_shape, "layers": described}


def describe_objects(namespace: dict) -> dict:
    """The record of a test cell's objects: ``{"models": {name: describe_layers}, "values": {name: JSON}}``."""
    models, values = {}, {}
    # A model brought across is one only when Keras is loaded (the checker may still be importing it: wait)
    keras = importlib.import_module("keras") if "keras" in sys.modules else None
    for name, value in namespace.items():
        if name.startswith("_"):
            continue
        if keras is not None and isinstance(value, keras.Model):
            try:
                models[name] = describe_layers(value)
            except Exception:  # noqa: BLE001, S112 (a model the checks cannot read is not recorded)
                continue
            continue
        plain = _plain(value)
        if plain is not None and len(json.dumps(plain)) <= MAX_VALUE_CHARS:
            values[name] = plain
    return {"models": models, "values": values}
