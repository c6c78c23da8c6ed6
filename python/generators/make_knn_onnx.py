"""Generates lib/routers/native/knn_topk.onnx: S = Q @ X^T (Gemm, transB=1), then TopK(S, K) along the last axis.

Inputs: Q float32 [B, D], X float32 [N, D], K int64 [1]. Outputs: values float32 [B, K], indices int64 [B, K].
Pinned: onnx 1.19.1, opset 17, IR version 8. Run: .venv/bin/python python/generators/make_knn_onnx.py <out.onnx>
"""

import sys

import onnx
from onnx import TensorProto, helper

q = helper.make_tensor_value_info("Q", TensorProto.FLOAT, ["B", "D"])
x = helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", "D"])
k = helper.make_tensor_value_info("K", TensorProto.INT64, [1])
values = helper.make_tensor_value_info("values", TensorProto.FLOAT, ["B", "Kout"])
indices = helper.make_tensor_value_info("indices", TensorProto.INT64, ["B", "Kout"])
nodes = [
    helper.make_node("Gemm", ["Q", "X"], ["S"], transB=1),
    helper.make_node("TopK", ["S", "K"], ["values", "indices"], axis=-1, largest=1, sorted=1),
]
graph = helper.make_graph(nodes, "knn_topk", [q, x, k], [values, indices])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="routerlab")
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, sys.argv[1])
