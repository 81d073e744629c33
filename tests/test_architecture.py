"""The architecture comparison on small untrained Keras 3 models, near misses included."""

from __future__ import annotations

import keras
import pytest
from conftest import cnn_layers, dense_layers, functional, sequential
from keras import layers

from graders.architecture import compare_model, describe_model
from graders.checks import check_layers
from graders.lessons.mnist_cnn import reference


def check_architecture(model, name: str) -> None:
    """The lesson's check of one of its networks: ``check_layers`` with its table (as its hidden tests call it)."""
    check_layers(model, reference.ARCHITECTURES[name], name={"cnn": "model", "dense": "dense_model"}[name],
                 input_shape=reference.INPUT_SHAPE)


@pytest.mark.parametrize("build", [functional, sequential], ids=["functional", "sequential"])
def test_lesson_cnn_matches_whether_functional_or_sequential(build):
    comparison = compare_model(build(cnn_layers()), reference.CNN_LAYERS, reference.INPUT_SHAPE)
    assert comparison.matches, comparison.table()
    assert comparison.found_params == 104_202
    check_architecture(build(cnn_layers()), "cnn")


def test_describe_model_skips_the_input_layer_and_reads_keras3_shapes():
    specs = describe_model(functional(cnn_layers()))
    assert [s.type for s in specs] == [s.type for s in reference.CNN_LAYERS]
    assert specs[0].output_shape == (None, 26, 26, 32)
    assert specs[-1].activation == "softmax"


def test_model_without_input_is_built_with_the_lesson_input_shape():
    model = keras.Sequential(cnn_layers())
    assert not model.built
    assert compare_model(model, reference.CNN_LAYERS, reference.INPUT_SHAPE).matches


def failure(model, name="cnn") -> str:
    with pytest.raises(AssertionError) as error:
        check_architecture(model, name)
    return str(error.value)


def test_padding_same_names_first_layer_output_shape_and_padding():
    message = failure(functional(cnn_layers(padding="same")))
    assert "layer 1 (Conv2D)" in message
    assert "padding expected 'valid', found 'same'" in message
    assert "output shape expected (None, 26, 26, 32), found (None, 28, 28, 32)" in message


def test_wrong_filter_count_names_the_layer_and_its_parameters():
    message = failure(sequential(cnn_layers(filters=(32, 48, 128))))
    assert "layer 3 (Conv2D)" in message
    assert "params expected 18496, found 13872" in message


def test_extra_dropout_is_an_extra_row_and_later_layers_stay_aligned():
    model = functional(cnn_layers(extra=[layers.Dropout(0.5)]))
    comparison = compare_model(model, reference.CNN_LAYERS, reference.INPUT_SHAPE)
    assert not comparison.matches
    # Same parameter count: a checker comparing totals alone would pass it.
    assert comparison.found_params == reference.CNN_PARAMS
    number, row = comparison.first_difference
    assert (number, row.expected, row.found.type) == (7, None, "Dropout")
    assert comparison.rows[-1].ok, "the Dense layer after the Dropout should still line up"
    assert "layer 7: extra Dropout layer" in failure(model)


def test_missing_layer_is_caught_where_zip_would_stop_early():
    model = sequential(cnn_layers(drop_pool2=True))
    comparison = compare_model(model, reference.CNN_LAYERS, reference.INPUT_SHAPE)
    number, row = comparison.first_difference
    assert (number, row.expected.type, row.found) == (4, "MaxPooling2D", None)
    message = failure(model)
    assert "layer 4: a MaxPooling2D layer is missing" in message
    assert "(no layer)" in message


def test_wrong_activation_is_named():
    message = failure(functional(cnn_layers(head_activation="sigmoid")))
    assert "layer 7 (Dense): activation expected 'softmax', found 'sigmoid'" in message


def test_the_table_shows_expected_against_found_for_every_row():
    message = failure(functional(cnn_layers(padding="same")))
    table_lines = [line for line in message.splitlines() if line[:3].strip().isdigit()]
    assert len(table_lines) == len(reference.CNN_LAYERS)
    assert "total params: expected 104,202, found" in message


def test_dense_network_matches_and_wrong_width_is_caught():
    check_architecture(sequential(dense_layers()), "dense")
    check_architecture(functional(dense_layers()), "dense")
    message = failure(sequential(dense_layers((256, 256, 128))), "dense")
    assert "layer 2 (Dense): output shape expected (None, 512), found (None, 256)" in message


def test_cnn_is_not_the_dense_network():
    message = failure(sequential(dense_layers()))
    assert "differs from the lesson's network" in message


def test_something_that_is_not_a_model_fails_clearly():
    assert "is not a Keras model" in failure(None)
