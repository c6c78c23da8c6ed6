"""Generates the float64 Gram graph inlined in lib/routers/native/gram.ts: S = A @ X^T (Gemm, transB=1), A [B, D], X [N, D] float64.

Pinned: onnx 1.19.1, opset 17, IR version 8. Run: .venv/bin/python python/generators/make_gram64_onnx.py <out.onnx>
"""

import sys, onnx
from onnx import TensorProto, helper
a = helper.make_tensor_value_info("A", TensorProto.DOUBLE, ["B", "D"])
x = helper.make_tensor_value_info("X", TensorProto.DOUBLE, ["N", "D"])
s = helper.make_tensor_value_info("S", TensorProto.DOUBLE, ["B", "N"])
g = helper.make_graph([helper.make_node("Gemm", ["A", "X"], ["S"], transB=1)], "gram64", [a, x], [s])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="routerlab")
m.ir_version = 8
onnx.checker.check_model(m)
onnx.save(m, sys.argv[1])
