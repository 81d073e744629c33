"""The students' self-checks: a per-layer table naming the first difference, clear preprocessing messages."""

import re
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import ROOT, cnn_layers, dense_layers, functional, sequential
from keras import layers

from graders.lessons.mnist_cnn import reference, self_check_module

selfcheck = self_check_module()
check_model, check_scaling, check_shapes, compare = (selfcheck.check_model, selfcheck.check_scaling,
                                                     selfcheck.check_shapes, selfcheck.compare)


def first_row_html(result) -> str:
    match = re.search(r'<tr class="selfcheck-first"[^>]*>(.*?)</tr>', result._repr_html_())
    assert match, "no row is highlighted as the first difference"
    return match.group(1)


@pytest.mark.parametrize("build", [sequential, functional])
def test_the_lesson_networks_pass_with_a_clean_table(build):
    result = check_model(build(cnn_layers()), "cnn")
    assert result.ok and result.found_params == reference.CNN_PARAMS
    html = result._repr_html_()
    assert 'class="selfcheck"' in html and "selfcheck-first" not in html and "matches the lesson" in html
    assert check_model(build(dense_layers()), "dense").ok


def test_padding_same_names_the_first_conv_layer_and_hints():
    with pytest.raises(AssertionError) as failure:
        check_model(functional(cnn_layers(padding="same")), "cnn")
    message = str(failure.value)
    assert message.startswith("model: layer 1: padding differs") and 'padding="valid"' in message
    row = first_row_html(compare(functional(cnn_layers(padding="same")), "cnn"))
    assert "Conv2D" in row and "padding=same" in row


def test_extra_layer_is_a_gap_not_a_shift():
    result = compare(sequential(cnn_layers(extra=[layers.Dropout(0.5)])), "cnn")
    assert result.summary().startswith("model: layer 7: an extra layer; hint: remove this Dropout layer")
    assert [row.differences for row in result.rows].count([]) == 7  # every lesson layer still lines up
    assert "Dropout" in first_row_html(result)


def test_missing_pooling_layer_is_named():
    result = compare(sequential(cnn_layers(drop_pool2=True)), "cnn")
    assert result.summary() == ("model: layer 4: a layer is missing; hint: add a MaxPooling2D(pool 2×2, padding=valid) "
                                "layer here")


def test_wrong_width_and_activation_hints():
    narrow = compare(sequential(dense_layers((512, 128, 128))), "dense")
    assert narrow.summary() == "dense_model: layer 3: units differs; hint: use 256 units"
    sigmoid = compare(sequential(cnn_layers(head_activation="sigmoid")), "cnn")
    assert sigmoid.summary() == 'model: layer 7: activation differs; hint: use activation="softmax"'


def test_plain_text_marks_the_first_difference():
    text = str(compare(sequential(cnn_layers(filters=(32, 32, 128))), "cnn"))
    marked = [line for line in text.splitlines() if line.startswith(">>")]
    assert len(marked) == 1 and marked[0].startswith(">>3") and "use 64 filters" in marked[0]
    assert "first difference: model: layer 3: filters differs" in text


@pytest.mark.parametrize(("index", "layer", "summary"), [
    (1, layers.MaxPooling2D(2, strides=1), "model: layer 2: strides differs; hint: use strides=2 (the default)"),
    (1, layers.MaxPooling2D(2, padding="same"), "model: layer 2: padding differs; hint: use padding=\"valid\""),
    (4, layers.Conv2D(128, 3, activation="relu", strides=2), "model: layer 5: strides differs; hint: use strides=1"),
    (0, layers.Conv2D(32, 3, activation="relu", use_bias=False), "model: layer 1: use_bias differs; hint: keep"),
])
def test_changed_defaults_are_named_even_when_the_table_columns_agree(index, layer, summary):
    stack = cnn_layers()
    stack[index] = layer
    result = compare(sequential(stack), "cnn")
    assert result.summary().startswith(summary)
    key = summary.split(": ")[2].split(" ")[0]
    assert key in first_row_html(result)  # the differing setting is shown in the student's column


def test_a_model_nested_in_the_model_gets_its_own_hint():
    inner = sequential(cnn_layers()[:5])
    result = compare(keras.Sequential([keras.Input(shape=(28, 28, 1)), inner, layers.Flatten(),
                                       layers.Dense(10, activation="softmax")]), "cnn")
    assert "build the layers directly in this model, not inside another model" in str(result)


def test_a_model_that_cannot_be_built_is_one_sentence():
    with pytest.raises(AssertionError, match=r"could not be built on \(28, 28, 1\) inputs"):
        check_model(keras.Sequential([layers.Reshape((5, 5))]), "cnn")


def test_not_a_model_is_a_clear_message():
    with pytest.raises(AssertionError, match="model should be a Keras model, found NoneType"):
        check_model(None, "cnn")


def test_nothing_hidden_is_shown():
    """The table shows the lesson's configuration and the student's own model, never the reference's shapes."""
    for model in (sequential(cnn_layers(padding="same")), sequential(cnn_layers(drop_pool2=True))):
        result = compare(model, "cnn")
        lesson_column = [result._cells(number, row)[1] for number, row in enumerate(result.rows, 1)]
        assert not any("None" in cell or "13" in cell for cell in lesson_column), lesson_column
    assert "13" not in str(compare(sequential(cnn_layers(padding="same")), "cnn")), "a question's answer leaks"
    source = Path(selfcheck.__file__).read_text()
    assert "ANSWERS" not in source and "import graders" not in source and "from graders" not in source


def test_the_lesson_tables_agree_with_the_reference():
    for lesson, expected in reference.ARCHITECTURES.items():
        _name, layers_, total = selfcheck.LESSON[lesson]
        assert [layer.type for layer in layers_] == [spec.type for spec in expected]
        assert [layer.setting("activation") for layer in layers_] == [spec.activation for spec in expected]
        assert total == reference.total_params(expected)


def test_release_ships_the_source_selfcheck():
    assert (ROOT / "release" / "mnist_cnn" / "selfcheck.py").read_bytes() == Path(selfcheck.__file__).read_bytes()


RAW = np.random.default_rng(0).integers(0, 256, size=(20, 28, 28), dtype=np.uint8)
LABELS = np.zeros(20, dtype=np.uint8)


@pytest.mark.parametrize(("images", "message"), [
    (RAW, r"shape \(20, 28, 28\): add the channel axis"),
    (RAW.reshape(20, 784), "it is flattened"),
    (RAW.reshape(20, 28, 28, 1), r"uint8, expected float32: convert with .astype\(\"float32\"\)"),
    (RAW.reshape(20, 28, 28, 1).astype("float64"), "float64 takes twice the memory"),
    ([[0.0]], r"should be a NumPy array, found a list: convert it with train_images = np.asarray\(train_images\)"),
])
def test_preprocessing_shape_mistakes_are_explained(images, message):
    with pytest.raises(AssertionError, match=message):
        check_shapes(images, images, LABELS, LABELS)


@pytest.mark.parametrize(("factor", "message"), [(1, "divide by 255"), (255 * 255, "divided by 255 twice")])
def test_scaling_mistakes_are_explained(factor, message):
    images = RAW.reshape(20, 28, 28, 1).astype("float32") / factor
    with pytest.raises(AssertionError, match=message):
        check_scaling(images, images)


def test_a_tensorflow_tensor_fails_the_shapes_check_only_and_says_how_to_convert_it(capsys):
    import tensorflow as tf

    tensor = tf.constant(reference.preprocess(RAW))
    with pytest.raises(AssertionError, match=r"found a TensorFlow tensor \(EagerTensor\): convert it with "
                                             r"train_images = train_images.numpy\(\)"):
        check_shapes(tensor, tensor, LABELS, LABELS)
    check_scaling(tensor, tensor)  # its values are right: the values check passes
    check_scaling(list(reference.preprocess(RAW)), reference.preprocess(RAW).astype("float64"))
    assert "values are in [0, 1]" in capsys.readouterr().out


def test_tensorflow_activations_match_the_lessons_names():
    import tensorflow as tf

    model = sequential([layers.Conv2D(32, 3, activation=tf.nn.relu), layers.MaxPooling2D(2),
                        layers.Conv2D(64, 3, activation=tf.nn.relu), layers.MaxPooling2D(2),
                        layers.Conv2D(128, 3, activation=tf.nn.relu), layers.Flatten(),
                        layers.Dense(10, activation=tf.nn.softmax)])
    assert check_model(model, "cnn").ok


def test_preprocessed_images_pass(capsys):
    images = reference.preprocess(RAW)
    check_shapes(images, images, LABELS, LABELS)
    check_scaling(images, images)
    assert "look right" in capsys.readouterr().out


def test_the_released_self_check_reads_layers_with_the_graders_own_code():
    """The self-check runs where the kit is not installed, so it carries a copy of the grader's layer reading:
    the copy must stay the grader's code, or students and graders would see one model two ways."""
    import inspect

    from graders import architecture

    for name in ("align", "_normalized", "output_shape", "type_in_words"):
        assert inspect.getsource(getattr(selfcheck, name)) == inspect.getsource(getattr(architecture, name)), name
    assert selfcheck.TF_ACTIVATIONS == architecture.TF_ACTIVATIONS
    assert set(architecture.CONFIG_KEYS) == set(selfcheck.CONFIG_KEYS)


def test_the_model_check_is_generated_from_the_reference_record_and_shows_no_shape_or_answer(tmp_path):
    """``source/mnist_cnn/model_check.py`` is what ``graders selfcheck mnist_cnn`` writes from the record now."""
    import shutil

    from graders.course.settings import read_settings
    from graders.reference.record import read_record, record_path
    from graders.reference.selfcheck import selfcheck_source, write_selfcheck

    settings = read_settings(ROOT, "mnist_cnn").selfcheck
    record = read_record(record_path(ROOT, "mnist_cnn"), "mnist_cnn.ipynb")
    models = {name: record.as_recorded("models", variable) for name, variable in settings.models}
    generated = selfcheck_source(models, settings, "mnist_cnn")
    assert (ROOT / "source" / "mnist_cnn" / "model_check.py").read_text() == generated, (
        "run `graders selfcheck mnist_cnn`, then `nbgrader generate_assignment mnist_cnn --force`")
    for _variable, layers_, _total in selfcheck.LESSON.values():  # settings only: no output shape, no answer
        for layer in layers_:
            assert layer.output_shape is None and {key for key, _ in layer.config} <= set(selfcheck.CONFIG_KEYS)
            assert 13 not in [value for _, value in layer.config]
    course = tmp_path / "course"  # the command, on a copy: a course without [selfcheck] is told what to add
    shutil.copytree(ROOT / "source", course / "source")
    shutil.copytree(ROOT / "release", course / "release")
    shutil.copytree(ROOT / "grading", course / "grading")
    (course / "nbgrader_config.py").write_text("c = get_config()\n")
    (course / "source" / "mnist_cnn" / "model_check.py").unlink()
    assert write_selfcheck(course, "mnist_cnn").read_text() == generated
    (course / "grading" / "mnist_cnn.toml").write_text('[data]\nMNIST_NPZ = "data/mnist.npz"\n')
    from graders.course.assignment import AssignmentError

    with pytest.raises(AssignmentError, match=r"no \[selfcheck\] table .*models = \{cnn = \"model\"\}"):
        write_selfcheck(course, "mnist_cnn")
