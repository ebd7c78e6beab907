"""ONNX files cfx cannot build are CFX_ERR_MODEL errors naming the node and operator (or the
tensor, input or attribute), never a crash. The graphs are written with onnx.helper, which needs
only the onnx package (CFX_TEST_ONNX=1 installs it; without it these tests skip with [onnx]).
test_onnx_graphs.py holds the small graphs that load, with the same helpers."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="[onnx] onnx is not installed (CFX_TEST_ONNX=1 bash Tests/run-all.sh installs it)")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import cfx  # noqa: E402


def graph_file(tmp_path, nodes, initializers=(), input_shape=("N", 4), input_type=TensorProto.FLOAT, opset=17,
               output="y"):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", input_type, list(input_shape))],
                              [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)], list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    return path


def weight(name, rows=3, columns=4):
    return numpy_helper.from_array(np.arange(rows * columns, dtype=np.float32).reshape(rows, columns) / 10, name)


def expect(path, *fragments):
    with pytest.raises(cfx.ModelError) as caught:
        cfx.Model.load(path)
    for fragment in fragments:
        assert fragment in str(caught.value), str(caught.value)


def test_unsupported_operator_names_node_and_op(tmp_path):
    path = graph_file(tmp_path, [helper.make_node("Gemm", ["x", "W"], ["h"], transB=1), helper.make_node("Erf", ["h"], ["y"])],
                      [weight("W")])
    expect(path, "node 1 (Erf): operator not supported")


def test_concat_other_than_branches_on_the_channel_axis(tmp_path):
    def branches(axis):
        return [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Sigmoid", ["x"], ["b"]),
                helper.make_node("Concat", ["a", "b"], ["y"], axis=axis)]
    expect(graph_file(tmp_path, branches(0)), "node 2 (Concat): axis=0 is not supported")
    expect(graph_file(tmp_path, branches(-2)), "node 2 (Concat): axis=-2 is not supported")
    constant = [helper.make_node("Concat", ["x", "W"], ["y"], axis=1)]
    expect(graph_file(tmp_path, constant, [weight("W", 1, 4)]), "node 0 (Concat): concatenates a constant")
    pooled = [helper.make_node("MaxPool", ["x"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
              helper.make_node("Concat", ["x", "p"], ["c"], axis=1), helper.make_node("Flatten", ["c"], ["y"])]
    expect(graph_file(tmp_path, pooled, input_shape=("N", 1, 4, 4)),
           "node 1 (Concat): concatenates shapes [1, 4, 4] and [1, 2, 2]")
    # Tensors without a common start: of two graph inputs (refused as such), or one nobody computes.
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Concat", ["a", "z"], ["y"], axis=1)], "g",
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", 4]) for n in ("x", "z")],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    path = tmp_path / "two.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    expect(path, "2 inputs (x, z); cfx models take one")
    loose = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Concat", ["a", "q"], ["y"], axis=1)]
    expect(graph_file(tmp_path, loose), "node 1 (Concat): input \"q\" is not computed from the graph input")


def test_raw_data_shorter_than_dims(tmp_path):
    w = weight("W")
    w.raw_data = w.raw_data[:8]
    path = graph_file(tmp_path, [helper.make_node("Gemm", ["x", "W"], ["y"], transB=1)], [w])
    expect(path, "node 0 (Gemm)", "holds 2 values, its shape [3, 4] needs 12")


def test_external_data_is_refused(tmp_path):
    w = weight("W")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    w.external_data.add(key="location", value="weights.bin")
    path = graph_file(tmp_path, [helper.make_node("Gemm", ["x", "W"], ["y"], transB=1)], [w])
    expect(path, "external data file", "save_as_external_data=False")


def test_dynamic_feature_dimension(tmp_path):
    path = graph_file(tmp_path, [helper.make_node("Relu", ["x"], ["y"])], input_shape=("N", "d"))
    expect(path, "dimension 1 is dynamic")


def test_pooling_in_ceil_mode(tmp_path):
    nodes = [helper.make_node("MaxPool", ["x"], ["p"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
             helper.make_node("Flatten", ["p"], ["y"])]
    expect(graph_file(tmp_path, nodes, input_shape=("N", 2, 5, 5)), "node 0 (MaxPool): ceil_mode=1 is not supported")


def test_operator_set_and_input_type(tmp_path):
    expect(graph_file(tmp_path, [helper.make_node("Relu", ["x"], ["y"])], opset=99), "operator set 99 is not supported")
    expect(graph_file(tmp_path, [helper.make_node("Relu", ["x"], ["y"])], input_type=TensorProto.INT64), "data type INT64")


def test_not_a_protobuf(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b'{"input_shape": [4]}')
    with pytest.raises(cfx.ModelError, match="m.onnx"):
        cfx.Model.load(path)
