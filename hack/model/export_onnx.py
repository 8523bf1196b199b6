"""Writes the CNN ensemble as an ONNX graph with the Hugging Face sequence-classification interface."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from bigru import PAD_PENALTY, GruConfig
from cnn import CnnConfig

OPSET = 18  # ReduceMax takes axes as an input from 18 on; onnxruntime-node 1.30 supports it.


class _Graph:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def op(self, op_type: str, inputs: list[str], output: str, **attrs: object) -> str:
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=output, **attrs))
        return output


def _i64(*values: int) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def _member(g: _Graph, cfg: CnnConfig, m: int, p: dict[str, np.ndarray], mask3: str) -> str:
    x = g.op("Gather", [g.const(f"m{m}.emb", p["emb"]), "input_ids"], f"m{m}.x")
    x = g.op("Mul", [x, mask3], f"m{m}.xm")
    # Zeros past the end so every window starting at a real token is complete (jnp.pad in training).
    pad = cfg.width - 1
    x = g.op("Pad", [x, g.const(f"m{m}.pads", _i64(0, 0, 0, 0, pad, 0))], f"m{m}.xp")
    shifted = []
    for j in range(cfg.width):
        # The padded length is L + pad, so rows j .. L + j end at (j - pad) counted from the end.
        end = j - pad if j < pad else np.iinfo(np.int64).max
        shifted.append(
            g.op("Slice", [x, g.const(f"m{m}.s{j}.start", _i64(j)), g.const(f"m{m}.s{j}.end", _i64(end)),
                           g.const(f"m{m}.s{j}.axes", _i64(1))], f"m{m}.shift{j}")
        )
    windows = g.op("Concat", shifted, f"m{m}.windows", axis=2)
    h = g.op("MatMul", [windows, g.const(f"m{m}.conv_w", p["conv_w"])], f"m{m}.conv")
    h = g.op("Add", [h, g.const(f"m{m}.conv_b", p["conv_b"])], f"m{m}.conv_b_add")
    h = g.op("Relu", [h], f"m{m}.relu")
    h = g.op("Mul", [h, mask3], f"m{m}.relu_m")
    h = g.op("ReduceMax", [h, g.const(f"m{m}.axis1", _i64(1))], f"m{m}.pooled", keepdims=0)
    h = g.op("MatMul", [h, g.const(f"m{m}.out_w", p["out_w"])], f"m{m}.logits_w")
    return g.op("Add", [h, g.const(f"m{m}.out_b", p["out_b"])], f"m{m}.logits")


def _finish(g: _Graph, count: int, members: list[str]) -> onnx.ModelProto:
    """Averages the members' logits and wraps the graph with the Hugging Face classification interface."""
    total = members[0] if len(members) == 1 else g.op("Sum", members, "logits_sum")
    scale = g.const("inv_members", np.asarray(1.0 / count, dtype=np.float32))
    g.op("Mul", [total, scale], "logits")

    graph = helper.make_graph(
        g.nodes,
        "kubesentiment-cnn",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"]),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="kubesentiment")
    model.ir_version = 8  # readable by every onnxruntime from 1.14 on
    onnx.checker.check_model(model, full_check=True)
    return model


def build_model(cfg: CnnConfig, params: dict[str, np.ndarray]) -> onnx.ModelProto:
    """params hold a leading ensemble axis, as produced by cnn.init_params/vmap."""
    g = _Graph()
    mask = g.op("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    mask3 = g.op("Unsqueeze", [mask, g.const("axis2", _i64(2))], "mask3")
    members = [
        _member(g, cfg, m, {k: np.asarray(v[m], dtype=np.float32) for k, v in params.items()}, mask3)
        for m in range(cfg.members)
    ]
    return _finish(g, cfg.members, members)


def _gru_member(g: _Graph, cfg: GruConfig, m: int, p: dict[str, np.ndarray], mask3: str, lengths: str) -> str:
    x = g.op("Gather", [g.const(f"m{m}.emb", p["emb"]), "input_ids"], f"m{m}.x")
    x = g.op("Mul", [x, mask3], f"m{m}.xm")
    x = g.op("Transpose", [x], f"m{m}.x_time_major", perm=[1, 0, 2])
    # sequence_lens makes the backward direction start at each row's last real token, as in training.
    y = g.op(
        "GRU",
        [x, g.const(f"m{m}.W", p["W"]), g.const(f"m{m}.R", p["R"]), g.const(f"m{m}.B", p["B"]), lengths],
        f"m{m}.gru",
        direction="bidirectional",
        hidden_size=cfg.hidden,
    )
    y = g.op("Transpose", [y], f"m{m}.y_batch_major", perm=[2, 0, 1, 3])  # [B, L, direction, H]
    y = g.op("Reshape", [y, g.const(f"m{m}.shape", _i64(0, 0, 2 * cfg.hidden))], f"m{m}.y")
    y = g.op("Mul", [y, mask3], f"m{m}.y_masked")
    penalty = g.op("Mul", [g.op("Sub", [mask3, "one_f"], f"m{m}.mask_m1"), "pad_penalty"], f"m{m}.penalty")
    y = g.op("Add", [y, penalty], f"m{m}.y_penalized")
    h = g.op("ReduceMax", [y, g.const(f"m{m}.axis1", _i64(1))], f"m{m}.pooled", keepdims=0)
    h = g.op("MatMul", [h, g.const(f"m{m}.out_w", p["out_w"])], f"m{m}.logits_w")
    return g.op("Add", [h, g.const(f"m{m}.out_b", p["out_b"])], f"m{m}.logits")


def build_gru_model(cfg: GruConfig, params: dict[str, np.ndarray]) -> onnx.ModelProto:
    """params hold a leading ensemble axis, as produced by bigru.init_params/vmap."""
    g = _Graph()
    mask = g.op("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    mask3 = g.op("Unsqueeze", [mask, g.const("axis2", _i64(2))], "mask3")
    g.const("one_f", np.asarray(1.0, dtype=np.float32))
    g.const("pad_penalty", np.asarray(PAD_PENALTY, dtype=np.float32))
    lengths = g.op("ReduceSum", ["attention_mask", g.const("axis1", _i64(1))], "lengths64", keepdims=0)
    lengths = g.op("Cast", [lengths], "lengths", to=TensorProto.INT32)
    members = [
        _gru_member(g, cfg, m, {k: np.asarray(v[m], dtype=np.float32) for k, v in params.items()}, mask3, lengths)
        for m in range(cfg.members)
    ]
    return _finish(g, cfg.members, members)
