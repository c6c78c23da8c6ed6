"""Generates the two one-node Gemm graphs inlined in lib/routers/native/gemm.ts (MF training's products).

gemm_nt: Y[M, N] = A[M, K] @ B[N, K]^T (transB=1); gemm_tn: Y[M, N] = A[K, M]^T @ B[K, N] (transA=1). float32.
Pinned: onnx 1.19.1, opset 17, IR version 8. Run: .venv/bin/python python/generators/make_gemm_onnx.py (prints base64, one per line)
"""

import base64

import onnx
from onnx import TensorProto, helper


def gemm(name, trans_a, trans_b, a_shape, b_shape):
    a = helper.make_tensor_value_info("A", TensorProto.FLOAT, a_shape)
    b = helper.make_tensor_value_info("B", TensorProto.FLOAT, b_shape)
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["M", "N"])
    node = helper.make_node("Gemm", ["A", "B"], ["Y"], transA=trans_a, transB=trans_b)
    graph = helper.make_graph([node], name, [a, b], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="routerlab")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return base64.b64encode(model.SerializeToString()).decode()


print(gemm("gemm_nt", 0, 1, ["M", "K"], ["N", "K"]))
print(gemm("gemm_tn", 1, 0, ["K", "M"], ["K", "N"]))
