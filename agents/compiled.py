"""The algorithms' one speed-up adapter: graph code compiled once, called with few tensors.

An algorithm writes its update as plain graph code of plain structures (a ``Rollout``, a list of
gradients, a dict of metrics) and names this adapter once, ``compiled(function, specs)``. What
makes the call fast happens here, through public TensorFlow APIs only
(``tf.function(...).get_concrete_function``, the concrete function's call):

- the function is traced once, for the given specs, with XLA if asked: no retracing, no
  signature matching on each call;
- calling a concrete function costs tens of microseconds for each tensor passed in (TensorFlow
  binds and checks each argument), which is more than these small networks' arithmetic. So the
  arguments travel packed: every 4-byte value (float32 and, bit for bit, int32) in one float32
  vector, booleans as 0.0/1.0 in it too, and bytes (uint8 images) in one uint8 vector. The
  function unpacks them inside the graph, where slicing costs nothing;
- the results leave packed the same way, one vector read with one ``.numpy()``, and come back
  as NumPy arrays in the function's own structure.

Measured in docs/BENCHMARKS.md (the ``--compare`` throughput suites of issue 35).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

# Value dtypes that travel bit for bit in the float32 vector (``tf.bitcast``) and those that
# travel as 0.0 / 1.0.
BITCAST = (tf.float32, tf.int32)
AS_FLOAT = (tf.bool,)
BYTES = (tf.uint8,)


class Packing:
    """How a flat list of tensor specs travels as one float32 vector and one uint8 vector.

    Args:
        specs: ``tf.TensorSpec``s of fully known shapes, of dtype float32, int32, bool or
            uint8.

    Raises:
        TypeError: a spec of another dtype or a shape not fully known.
    """

    def __init__(self, specs):
        self.specs = list(specs)
        self.sizes, self.in_bytes = [], []
        for spec in self.specs:
            if spec.dtype not in (*BITCAST, *AS_FLOAT, *BYTES):
                raise TypeError(f"compiled: cannot pack {spec}: float32, int32, bool or uint8")
            if not spec.shape.is_fully_defined():
                raise TypeError(f"compiled: {spec} needs a fully known shape")
            self.sizes.append(spec.shape.num_elements())
            self.in_bytes.append(spec.dtype in BYTES)
        self.has_words = not all(self.in_bytes)
        self.has_bytes = any(self.in_bytes)
        # What the packed vectors hold, value by value: two packings of equal kinds pack alike.
        self.kinds = tuple((spec.dtype, tuple(spec.shape)) for spec in self.specs)
        self.words = sum(s for s, b in zip(self.sizes, self.in_bytes, strict=True) if not b)
        self.bytes = sum(s for s, b in zip(self.sizes, self.in_bytes, strict=True) if b)
        # Per value, worked out once: where it lies in which vector, and how it is read there
        # ("float": float32; "int": int32 bits; "bool": 0.0 / 1.0; "byte": uint8).
        self.plan = []
        offsets = {False: 0, True: 0}
        for spec, size, in_bytes in zip(self.specs, self.sizes, self.in_bytes, strict=True):
            kind = {tf.float32: "float", tf.int32: "int", tf.bool: "bool", tf.uint8: "byte"}
            start = offsets[in_bytes]
            offsets[in_bytes] = start + size
            self.plan.append((kind[spec.dtype], start, start + size, tuple(spec.shape), spec))

    def vector_specs(self) -> list[tf.TensorSpec]:
        """The specs of the packed vectors: float32 ``(words,)``, then uint8 ``(bytes,)``, each
        only if some value travels in it."""
        specs = []
        if self.has_words:
            specs.append(tf.TensorSpec([self.words], tf.float32))
        if self.has_bytes:
            specs.append(tf.TensorSpec([self.bytes], tf.uint8))
        return specs

    # NumPy side: what the caller sends and receives.

    def pack_arrays(self, values) -> list[np.ndarray]:
        """NumPy arrays (or tensors) of ``specs`` -> the packed vectors.

        Raises:
            ValueError: a value of another size than its spec's.
        """
        words = np.empty(self.words, np.float32)
        ints = words.view(np.int32)
        data = np.empty(self.bytes, np.uint8)
        for value, (kind, start, end, _, spec) in zip(values, self.plan, strict=True):
            if np.size(value) != end - start:
                raise ValueError(f"compiled: got shape {np.shape(value)} for {spec}")
            target = ints if kind == "int" else data if kind == "byte" else words
            target[start:end] = np.ravel(value)
        return [words] * self.has_words + [data] * self.has_bytes

    def unpack_arrays(self, vectors) -> list[np.ndarray]:
        """The packed vectors (NumPy) -> NumPy arrays of ``specs`` (views of them)."""
        vectors = list(vectors)
        words = vectors.pop(0) if self.has_words else None
        data = vectors.pop(0) if self.has_bytes else None
        ints = words.view(np.int32) if words is not None else None
        arrays = []
        for kind, start, end, shape, _ in self.plan:
            if kind == "float":
                part = words[start:end]
            elif kind == "int":
                part = ints[start:end]
            elif kind == "bool":
                part = words[start:end] != 0.0
            else:
                part = data[start:end]
            arrays.append(part.reshape(shape))
        return arrays

    # Graph side: what the compiled function receives and returns.

    def pack_tensors(self, tensors) -> list[tf.Tensor]:
        """Tensors of ``specs`` -> the packed vectors (graph code)."""
        words, data = [], []
        for tensor, spec, in_bytes in zip(tensors, self.specs, self.in_bytes, strict=True):
            flat = tf.reshape(tf.convert_to_tensor(tensor, spec.dtype), [-1])
            if in_bytes:
                data.append(flat)
            elif spec.dtype in AS_FLOAT:
                words.append(tf.cast(flat, tf.float32))
            else:
                words.append(tf.bitcast(flat, tf.float32))
        vectors = []
        for wanted, parts in ((self.has_words, words), (self.has_bytes, data)):
            if wanted:
                vectors.append(tf.concat(parts, axis=0) if len(parts) > 1 else parts[0])
        return vectors

    def unpack_tensors(self, vectors) -> list[tf.Tensor]:
        """The packed vectors -> tensors of ``specs`` (graph code)."""
        streams = self._streams(vectors)
        offsets = {False: 0, True: 0}
        tensors = []
        for spec, size, in_bytes in zip(self.specs, self.sizes, self.in_bytes, strict=True):
            start = offsets[in_bytes]
            part = streams[in_bytes][start : start + size]
            offsets[in_bytes] = start + size
            if spec.dtype in AS_FLOAT:
                part = part != 0.0
            elif spec.dtype != tf.float32 and not in_bytes:
                part = tf.bitcast(part, spec.dtype)
            tensors.append(tf.reshape(part, spec.shape))
        return tensors

    def _streams(self, vectors) -> dict:
        vectors = list(vectors)
        streams = {}
        if self.has_words:
            streams[False] = vectors.pop(0)
        if self.has_bytes:
            streams[True] = vectors.pop(0)
        return streams


class Compiled:
    """``function`` compiled once for arguments of ``specs``; see the module's docstring.

    Args:
        function: graph code taking one argument per spec (a ``Rollout``, a list of tensors, a
            dict...) and returning any nest of tensors or variables (a variable returns its
            value after the function's assignments).
        specs: one nest of ``tf.TensorSpec``s per argument, of fully known shapes.
        jit_compile: compile with XLA.

    Call: ``compiled(*args)`` with NumPy arrays or tensors in the structure of ``specs`` ->
    the function's results in its structure, as read-only NumPy arrays (bools as bools).
    Results handed on whole, on the same thread, to a compiled function that takes values of
    their kinds (an A3C worker's gradients to its apply) travel as the tensors they came
    out as, not packed again.
    """

    def __init__(self, function: Callable, specs: tuple, jit_compile: bool = False):
        self.specs = tuple(specs)
        self.jit_compile = bool(jit_compile)
        self.inputs = Packing(keras.tree.flatten(self.specs))
        self.outputs: Packing | None = None  # known once traced
        self._output_structure = None

        def packed(*vectors):
            args = keras.tree.pack_sequence_as(self.specs, self.inputs.unpack_tensors(vectors))
            results = function(*args)
            leaves = [tf.convert_to_tensor(leaf) for leaf in keras.tree.flatten(results)]
            self._output_structure = results
            self.outputs = Packing([tf.TensorSpec(t.shape, t.dtype) for t in leaves])
            return self.outputs.pack_tensors(leaves)

        traced = tf.function(packed, jit_compile=jit_compile)
        self.concrete = traced.get_concrete_function(*self.inputs.vector_specs())

    def __call__(self, *args) -> Any:
        values = keras.tree.flatten(args)
        tensors = LAST_RESULTS.tensors_of(values, self.inputs)
        if tensors is None:
            # Tensors made here, not by the call: its conversion of arrays costs far more.
            tensors = [tf.constant(vector) for vector in self.inputs.pack_arrays(values)]
        results = self.concrete(*tensors)
        vectors = [vector.numpy() for vector in results]
        for vector in vectors:
            vector.flags.writeable = False  # so results handed on whole are what they were
        arrays = self.outputs.unpack_arrays(vectors)
        LAST_RESULTS.keep(arrays, results, self.outputs)
        # keras.tree packs a structure ten times faster than tf.nest.
        return keras.tree.pack_sequence_as(self._output_structure, arrays)


class LastResults(threading.local):
    """Each thread's newest results of a compiled function: their arrays (read-only) and the
    packed tensors they came out of, so that those same arrays, handed on whole to a compiled
    function that packs values of their kinds alike, go to it as the tensors."""

    arrays: list | None = None
    tensors: list | None = None
    packing: Packing | None = None

    def keep(self, arrays: list, tensors: list, packing: Packing) -> None:
        self.arrays, self.tensors, self.packing = arrays, tensors, packing

    def tensors_of(self, values: list, packing: Packing) -> list | None:
        """The kept tensors if ``values`` are the kept arrays themselves, in order, and
        ``packing`` packs them as they were packed; else None."""
        arrays = self.arrays
        if arrays is None or len(values) != len(arrays) or packing.kinds != self.packing.kinds:
            return None
        if all(value is array for value, array in zip(values, arrays, strict=True)):
            return self.tensors
        return None


LAST_RESULTS = LastResults()


def compiled(function: Callable, *specs, jit_compile: bool = False) -> Compiled:
    """``Compiled(function, specs, jit_compile)``: the one way the algorithms compile their
    graph code."""
    return Compiled(function, specs, jit_compile)
