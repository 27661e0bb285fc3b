"""Functional models through the plan: the loss and every parameter gradient of one training step equal
the float64 finite differences of an independent NumPy interpreter of the same graph (graph_reference.py),
for skip connections (Add, Subtract, Average, Multiply, Maximum, Minimum), concatenation, a value read by
several layers, shared layers (one layer called twice), batch normalisation in training mode, a dilated
convolution, depthwise and dilated depthwise convolutions, a separable convolution, transposed
convolutions, padding, cropping, nearest upsampling and reshapes.

Tolerance: the plan computes in float32; the gradients of these small graphs (≤ a few hundred terms per
element, values of order 1) carry float32 rounding of ~1e-6 relative, and the float64 central
differences (h = 1e-6) carry ~1e-9. A gradient summed over one reader too few, sent to the wrong
branch or the wrong padding offset is off by tens of percent of its norm; 1e-4 of the norm separates
them with a wide margin."""
import numpy as np
import pytest

import graph_reference
import gputrain as gt
from gputrain import layers

TOL = 1e-4


def _residual_model():
    inp = gt.Input((6, 6, 2))
    a = layers.Conv2D(3, 3, padding="same", activation="relu")(inp)
    # a is read by five layers (b, the first Add, the shared convolution's second call, the depthwise
    # branch and the concatenation), so its gradient is their sum; b is a dilated convolution.
    b = layers.Conv2D(3, (3, 2), padding="same", dilation_rate=(2, 3), use_bias=False)(a)
    skip = layers.Add()([a, b])
    shared = layers.Conv2D(3, 3, padding="same", name="shared")  # one layer, called twice
    s1, s2 = shared(skip), shared(a)
    mixed = layers.Average()([s1, s2, layers.Subtract()([skip, s2])])
    # Products and extrema of three inputs (random values: no ties, where a maximum's gradient is a choice).
    mixed = layers.Add()([mixed, layers.Multiply()([s1, s2, skip]), layers.Maximum()([s1, s2, b]),
                          layers.Minimum()([b, s1])])
    normed = layers.BatchNormalization()(mixed)
    padded = layers.ZeroPadding2D(((1, 0), (2, 1)))(normed)
    cropped = layers.Cropping2D(((5, 5), (3, 4)))(layers.UpSampling2D((2, 2))(padded))  # 7x9 -> 14x18 -> 4x11
    cropped = layers.ZeroPadding2D(((1, 1), (0, 0)))(layers.Cropping2D(((0, 0), (1, 4)))(cropped))  # 6x6
    # A bias of ones keeps the relu off its kink where every tap reads one of a's zeros (the finite
    # difference of relu at exactly 0 is 1/2, its derivative there 0).
    deep = layers.DepthwiseConv2D(3, padding="same", dilation_rate=2, depth_multiplier=2, activation="relu",
                                  bias_initializer="ones")(a)
    deep = layers.DepthwiseConv2D((2, 3), strides=(1, 2), use_bias=False)(layers.ZeroPadding2D(((0, 1), (1, 1)))(deep))
    deep = layers.SeparableConv2D(6, 3, padding="same", depth_multiplier=2, activation="tanh")(deep)  # 6x3
    deep = layers.Conv2DTranspose(6, (3, 2), strides=(2, 1), activation="swish")(deep)  # 13x4
    deep = layers.Conv2DTranspose(6, 3, strides=(1, 2), padding="same", use_bias=False)(  # 6x6 ... 6x8
        layers.Cropping2D(((3, 4), (0, 0)))(deep))
    deep = layers.LeakyReLU(0.2)(layers.Cropping2D(((0, 0), (1, 1)))(deep))
    joined = layers.Concatenate()([cropped, a, deep])  # along channels
    rows = layers.Concatenate(axis=1)([joined, joined])          # along height: one value read twice
    pooled = layers.GlobalMaxPooling2D()(rows)
    flat = layers.Reshape((3, 4))(pooled)
    out = layers.Dense(4, activation="softmax")(layers.Flatten()(flat))
    return gt.Model(inp, out)


def test_graph_gradients_equal_finite_differences(device):
    gt.utils.set_random_seed(3)
    model = _residual_model()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 6, 6, 2)).astype(np.float32)
    labels = rng.integers(0, 4, 3)
    # A bias followed by batch normalisation has an exact gradient of zero (the normalisation removes any
    # shift of a channel): such a gradient is judged against the scale of the model's gradients.
    want = graph_reference.check_plan_gradients(model, x, labels, device, TOL, floor=1e-2)
    # The shared convolution's gradient is the sum over its two calls: neither call alone gives it.
    shared = model.get_layer("shared")
    assert len(shared._inbound_nodes) == 2 and np.linalg.norm(want[(shared, "kernel")]) > 0


def test_a_layer_read_by_two_branches_trains_like_keras_sums_them(device):
    # x feeds two Dense layers whose outputs are added: d(loss)/dx is the sum over both readers, so the
    # first layer's gradient equals that of the same model written with one Dense of the summed kernel.
    gt.utils.set_random_seed(5)
    inp = gt.Input((5,))
    h = layers.Dense(6, activation="relu")(inp)
    left, right = layers.Dense(4, use_bias=False), layers.Dense(4, use_bias=False)
    out = layers.Activation("softmax")(layers.Add()([left(h), right(h)]))
    model = gt.Model(inp, out)
    rng = np.random.default_rng(1)
    x, labels = rng.standard_normal((4, 5)).astype(np.float32), rng.integers(0, 4, 4)
    _, got = graph_reference.plan_gradients(model, x, labels, device)
    want = graph_reference.gradients(model, x, labels)
    for key, expected in want.items():
        assert np.linalg.norm(got[key] - expected) <= TOL * np.linalg.norm(expected), key[0].name
