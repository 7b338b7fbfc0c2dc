"""Stateless chains collapse into matrices that compute what the float executor computes."""
import numpy as np

from spikec.backends.reference import float_ops
from spikec.compiler.linear_maps import layer_inputs
from spikec.compiler.node_matrices import conv_matrix, pool_matrix
from spikec.ir.check import normalise
from spikec.ir.graph import Graph
from spikec.ir.nodes import IF, Affine, AvgPool2d, Conv2d, Flatten, Input, Output, SumPool2d
from spikec.ir.shapes import conv_geometry, pool_geometry


def test_conv_matrix_equals_the_float_convolution():
    rng = np.random.default_rng(0)
    for stride, padding, dilation, groups in (((1, 1), (1, 1), (1, 1), 1), ((2, 1), (0, 2), (1, 2), 2)):
        node = Conv2d(input_shape=(7, 6), weight=rng.standard_normal((4, 4 // groups, 3, 2)), stride=stride,
                      padding=padding, dilation=dilation, groups=groups, bias=np.zeros(4))
        x = rng.standard_normal((3, 4, 7, 6))
        g = conv_geometry(node)
        y = float_ops.conv(x, node.weight, None, g["stride"], g["padding"], g["dilation"], groups)
        m = conv_matrix(node, (4, 7, 6), y.shape[1:])
        np.testing.assert_allclose(x.reshape(3, -1) @ m.T, y.reshape(3, -1), atol=1e-12)


def test_pool_matrices_equal_the_float_pooling():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 6, 5))
    for cls, fn in ((SumPool2d, float_ops.sum_pool2d), (AvgPool2d, float_ops.avg_pool2d)):
        node = cls(kernel_size=(2, 2), stride=(2, 1), padding=(1, 0))
        g = pool_geometry(node)
        y = fn(x, g["kernel"], g["stride"], g["padding"])
        np.testing.assert_allclose(x.reshape(2, -1) @ pool_matrix(node, (3, 6, 5), y.shape[1:]).T, y.reshape(2, -1), atol=1e-12)


def test_chain_of_conv_pool_flatten_affine_is_one_projection_with_the_biases():
    rng = np.random.default_rng(2)
    conv = Conv2d(input_shape=(4, 4), weight=rng.standard_normal((2, 1, 3, 3)), stride=(1,), padding=(1,), dilation=(1,), groups=1, bias=np.array([0.5, -1.0]))
    nodes = {
        "in": Input(shape=(1, 4, 4)), "conv": conv, "pool": SumPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0)),
        "flat": Flatten(input_shape=None), "fc": Affine(weight=rng.standard_normal((3, 8)), bias=np.array([1.0, 2.0, 3.0])),
        "if": IF(r=np.ones(3), v_threshold=np.ones(3), v_reset=np.zeros(3)), "out": Output(shape=(3,)),
    }
    edges = [("in", "conv"), ("conv", "pool"), ("pool", "flat"), ("flat", "fc"), ("fc", "if"), ("if", "out")]
    graph = normalise(Graph(nodes, edges))
    inputs = layer_inputs(graph)
    (p,) = inputs.projections["if"]
    assert p.source == "in" and p.matrix.shape == (3, 16) and p.back_edges == {0}
    x = rng.standard_normal((5, 1, 4, 4))
    g = conv_geometry(conv)
    y = float_ops.conv(x, conv.weight, conv.bias, g["stride"], g["padding"], g["dilation"], 1)
    y = float_ops.sum_pool2d(y, (2, 2), (2, 2), (0, 0)).reshape(5, -1) @ nodes["fc"].weight.T + nodes["fc"].bias
    np.testing.assert_allclose(x.reshape(5, -1) @ p.matrix.T + inputs.constants["if"], y, atol=1e-12)
