"""The speed-up adapter (agents/compiled.py): values travel packed and come back exact, in the
function's own structure, through public TensorFlow calls only."""

import threading
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from agents.compiled import LAST_RESULTS, Packing, compiled
from agents.memory import Rollout

ROOT = Path(__file__).resolve().parent.parent


def test_values_of_every_dtype_travel_exactly_and_come_back_in_the_functions_structure():
    counter = tf.Variable([1.0, 2.0])

    def update(rollout, extra):
        counter.assign_add(rollout.rewards[0])
        return {
            "actions": rollout.actions,  # int32, bit for bit through the float32 vector
            "frames": rollout.states,  # uint8, in the bytes vector
            "valid": rollout.valid > 0.5,  # bool, as 0.0 / 1.0
            "counter": counter,  # a variable: its value after the assignment
        }, tf.reduce_sum(extra["x"])

    spec = Rollout(
        states=tf.TensorSpec([3, 2, 4], tf.uint8),
        actions=tf.TensorSpec([2, 2], tf.int32),
        rewards=tf.TensorSpec([2, 2]),
        terminated=tf.TensorSpec([2, 2]),
        truncated=tf.TensorSpec([2, 2]),
        valid=tf.TensorSpec([2, 2]),
    )
    function = compiled(update, spec, {"x": tf.TensorSpec([3])})
    arguments, _ = function.concrete.structured_input_signature
    assert [a.dtype for a in arguments] == [tf.float32, tf.uint8]  # two vectors, no more
    # -1 and the largest int32 are NaN bit patterns as float32: they must survive unchanged.
    actions = np.array([[-1, 2**31 - 1], [7, 0]], np.int32)
    frames = np.arange(24, dtype=np.uint8).reshape(3, 2, 4) * 10
    rollout = Rollout(
        frames,
        actions,
        np.ones((2, 2), np.float32),
        np.zeros((2, 2), np.float32),
        np.zeros((2, 2), np.float32),
        np.array([[1, 0], [0, 1]], np.float32),
    )
    results, total = function(rollout, {"x": np.array([1.5, 2.5, 3.0], np.float32)})
    np.testing.assert_array_equal(results["actions"], actions)
    assert results["actions"].dtype == np.int32
    np.testing.assert_array_equal(results["frames"], frames)
    assert results["frames"].dtype == np.uint8
    np.testing.assert_array_equal(results["valid"], [[True, False], [False, True]])
    np.testing.assert_array_equal(results["counter"], [2.0, 3.0])
    assert float(total) == 7.0 and np.ndim(total) == 0


def test_the_function_is_traced_once_and_refuses_arguments_of_another_shape():
    traces = []

    def double(x):
        traces.append(1)
        return x * 2

    function = compiled(double, tf.TensorSpec([2]), jit_compile=True)
    for value in ([1.0, 2.0], [3.0, 4.0]):
        np.testing.assert_array_equal(function(np.array(value, np.float32)), np.multiply(value, 2))
    assert len(traces) == 1 and function.jit_compile
    with pytest.raises(ValueError, match="got shape"):
        function(np.zeros(3, np.float32))


def test_empty_structures_travel_too():
    function = compiled(
        lambda gradients, moments: (moments, gradients[0] + 1), [tf.TensorSpec([1])], ()
    )
    moments, result = function([np.array([1.0], np.float32)], ())
    assert moments == () and result.tolist() == [2.0]


def test_a_spec_it_cannot_pack_is_refused_at_once():
    with pytest.raises(TypeError, match="float32, int32, bool or uint8"):
        Packing([tf.TensorSpec([2], tf.float64)])
    with pytest.raises(TypeError, match="fully known shape"):
        Packing([tf.TensorSpec([None], tf.float32)])


def test_results_handed_on_whole_travel_as_their_tensors_and_nothing_else_does():
    """An A3C worker hands its gradients to its apply: those very arrays go as the tensors they
    came out as; a copy, another thread's or a changed value is packed afresh, and results are
    read-only so that a kept tensor is always what its array shows."""
    gradients = compiled(lambda x: [x * 2.0, x[:1] + 1.0], tf.TensorSpec([3]))
    apply = compiled(lambda g: g[0] + tf.reduce_sum(g[1]), [tf.TensorSpec([3]), tf.TensorSpec([1])])
    handed = gradients(np.array([1.0, 2.0, 3.0], np.float32))
    assert not handed[0].flags.writeable  # read-only: what was kept cannot change under it
    with pytest.raises(ValueError):
        handed[0][0] = 5.0
    kept = LAST_RESULTS.tensors_of(handed, apply.inputs)
    assert kept is not None
    np.testing.assert_array_equal(apply(handed), [4.0, 6.0, 8.0])
    copies = [np.array(a) for a in handed]
    assert LAST_RESULTS.tensors_of(copies, apply.inputs) is None  # equal values, not the arrays
    copies[1] = np.array([10.0], np.float32)  # a changed value is packed afresh
    np.testing.assert_array_equal(apply(copies), [12.0, 14.0, 16.0])
    other = []
    handed = gradients(np.array([1.0, 1.0, 1.0], np.float32))
    thread = threading.Thread(
        target=lambda: other.append(LAST_RESULTS.tensors_of(handed, apply.inputs))
    )
    thread.start()
    thread.join()
    assert other == [None]  # each thread keeps its own
    different = compiled(lambda g: g[0], [tf.TensorSpec([1]), tf.TensorSpec([3])])
    assert LAST_RESULTS.tensors_of(handed, different.inputs) is None  # packed otherwise


def test_no_private_tensorflow_entry_anywhere_in_the_project():
    sources = [p for p in ROOT.rglob("*.py") if ".git" not in p.parts and "tests" not in p.parts]
    private = [
        f"{path.relative_to(ROOT)}: {line.strip()}"
        for path in sources
        for line in path.read_text().splitlines()
        if "._call_flat" in line or "tensorflow.python." in line
    ]
    assert sources and not private, private
