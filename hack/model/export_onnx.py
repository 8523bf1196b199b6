"""Writes the trained ensemble as one ONNX graph with the Hugging Face sequence-classification interface."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from cnn import CnnConfig, predict
from sst2 import CLS, MASK, PAD, SEP, UNK, pad_batch

NAME = "kubesentiment-sst2-cnn"
LABELS = ("negative", "positive")
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


def _cnn_member(g: _Graph, cfg: CnnConfig, m: int, p: dict[str, np.ndarray], mask3: str, lengths: str) -> str:
    h = g.op("Gather", [g.const(f"m{m}.emb", p["emb"]), "input_ids"], f"m{m}.x")
    h = g.op("Mul", [h, mask3], f"m{m}.xm")
    axis1 = g.const(f"m{m}.axis1", _i64(1))
    pooled = []
    for i in range(cfg.layers):
        h = _conv(g, cfg, f"m{m}.l{i}", h, p[f"conv{i}_w"], p[f"conv{i}_b"], mask3)
        pooled.append(g.op("ReduceMax", [h, axis1], f"m{m}.l{i}.max", keepdims=0))
        total = g.op("ReduceSum", [h, axis1], f"m{m}.l{i}.sum", keepdims=0)
        pooled.append(g.op("Div", [total, lengths], f"m{m}.l{i}.mean"))
    h = g.op("Concat", pooled, f"m{m}.pooled", axis=1)
    h = g.op("MatMul", [h, g.const(f"m{m}.out_w", p["out_w"])], f"m{m}.logits_w")
    return g.op("Add", [h, g.const(f"m{m}.out_b", p["out_b"])], f"m{m}.logits")


def _conv(g: _Graph, cfg: CnnConfig, name: str, x: str, w: np.ndarray, b: np.ndarray, mask3: str) -> str:
    """cnn.conv: zeros beyond both ends so every window is complete, the k shifted copies side by side, one GEMM."""
    k = cfg.width
    left = (k - 1) // 2
    x = g.op("Pad", [x, g.const(f"{name}.pads", _i64(0, left, 0, 0, k - 1 - left, 0))], f"{name}.padded")
    shifted = []
    for j in range(k):
        # The padded length is L + k - 1, so rows j .. L + j end at (j - (k - 1)) counted from the end.
        end = j - (k - 1) if j < k - 1 else np.iinfo(np.int64).max
        shifted.append(
            g.op("Slice", [x, g.const(f"{name}.s{j}.start", _i64(j)), g.const(f"{name}.s{j}.end", _i64(end)),
                           g.const(f"{name}.s{j}.axes", _i64(1))], f"{name}.shift{j}")
        )
    windows = g.op("Concat", shifted, f"{name}.windows", axis=2)
    h = g.op("MatMul", [windows, g.const(f"{name}.w", w)], f"{name}.conv")
    h = g.op("Add", [h, g.const(f"{name}.b", b)], f"{name}.conv_b")
    h = g.op("Relu", [h], f"{name}.relu")
    return g.op("Mul", [h, mask3], f"{name}.relu_m")


def _finish(g: _Graph, count: int, members: list[str]) -> onnx.ModelProto:
    """Averages the members' logits and wraps the graph with the Hugging Face classification interface."""
    total = members[0] if len(members) == 1 else g.op("Sum", members, "logits_sum")
    scale = g.const("inv_members", np.asarray(1.0 / count, dtype=np.float32))
    g.op("Mul", [total, scale], "logits")

    graph = helper.make_graph(
        g.nodes,
        "kubesentiment-sentiment",
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


def build_model(members: list[tuple[CnnConfig, dict[str, np.ndarray]]]) -> onnx.ModelProto:
    """One subgraph per trained model (each params dict holds a leading vmap axis); logits are averaged."""
    g = _Graph()
    mask = g.op("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    mask3 = g.op("Unsqueeze", [mask, g.const("axis2", _i64(2))], "mask3")
    lengths = g.op("ReduceSum", [mask, g.const("axis1", _i64(1))], "lengths", keepdims=1)
    logits: list[str] = []
    for cfg, params in members:
        for k in range(cfg.members):
            p = {name: np.asarray(v[k], dtype=np.float32) for name, v in params.items()}
            logits.append(_cnn_member(g, cfg, len(logits), p, mask3, lengths))
    return _finish(g, len(logits), logits)


def export_trained(
    out: Path,
    tok,
    trained: list[tuple[CnnConfig, dict]],
    dev_seqs: list[np.ndarray],
    dev_labels: np.ndarray,
    pad_id: int,
    started: float,
    *,
    max_len: int,
    ensemble: list[tuple[CnnConfig, int]],
    vocab_size: int,
    extra: dict | None = None,
) -> None:
    """Exports trained CNN members as the worker's model directory, checks the graph against the training
    framework on dev and reports what was written; config.json records the dev accuracy and `extra`."""
    # Every vmap member counts once, as in the exported graph's average.
    ref_logits = sum(cfg.members * predict(cfg, params, dev_seqs, pad_id) for cfg, params in trained)
    ref_logits = ref_logits / sum(cfg.members for cfg, _ in trained)
    dev_acc = float((ref_logits.argmax(-1) == dev_labels).mean())
    model = build_model([(cfg, {k: np.asarray(v) for k, v in params.items()}) for cfg, params in trained])
    _write_model_files(out, tok, model, max_len=max_len, ensemble=ensemble, vocab_size=vocab_size,
                       extra={"sst2_dev_accuracy": round(dev_acc, 4), **(extra or {})})
    _check_parity_and_report(out, dev_seqs, pad_id, ref_logits, dev_acc, started)


def _write_model_files(
    out: Path,
    tok,
    model: onnx.ModelProto,
    *,
    max_len: int,
    ensemble: list[tuple[CnnConfig, int]],
    vocab_size: int,
    extra: dict,
) -> None:
    """The four files of a Hugging Face-style sequence-classification export, `extra` added to config.json."""
    out.mkdir(parents=True, exist_ok=True)
    onnx.save(model, out / "model.onnx")
    tok.save(str(out / "tokenizer.json"))
    tokenizer_config = {
        "tokenizer_class": "BertTokenizer",
        "do_lower_case": True,
        "model_max_length": max_len,
        "pad_token": PAD,
        "unk_token": UNK,
        "cls_token": CLS,
        "sep_token": SEP,
        "mask_token": MASK,
        "clean_up_tokenization_spaces": False,
    }
    # The version is a digest of the weights: it changes exactly when the model does.
    version = "sha256-" + hashlib.sha256((out / "model.onnx").read_bytes()).hexdigest()[:12]
    config = {
        "name": NAME,
        "version": version,
        "model_type": "kubesentiment-cnn",
        "architectures": ["CnnEnsembleForSequenceClassification"],
        "id2label": {str(i): label for i, label in enumerate(LABELS)},
        "label2id": {label: i for i, label in enumerate(LABELS)},
        "pad_token_id": tok.token_to_id(PAD),
        "vocab_size": vocab_size,
        "ensemble": [{**asdict(cfg), "seed": seed} for cfg, seed in ensemble],
        "max_position_embeddings": max_len,
        **extra,
    }
    for file, obj in (("tokenizer_config.json", tokenizer_config), ("config.json", config)):
        (out / file).write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")


def _check_parity_and_report(
    out: Path, dev_seqs: list, pad_id: int, ref_logits: np.ndarray, dev_acc: float, started: float
) -> None:
    """The exported graph must reproduce the training framework's logits on dev; then say what was written."""
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    onnx_logits = []
    for i in range(0, len(dev_seqs), 64):
        ids, mask = pad_batch(dev_seqs[i : i + 64], pad_id)
        feed = {"input_ids": ids.astype(np.int64), "attention_mask": mask.astype(np.int64)}
        onnx_logits.append(session.run(["logits"], feed)[0])
    diff = float(np.abs(np.concatenate(onnx_logits) - ref_logits).max())
    if diff > 1e-3:
        raise SystemExit(f"ONNX parity failed: max |logit diff| {diff:.2e}")
    size = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
    print(f"onnx parity: max |logit diff| {diff:.2e}")
    print(f"wrote {out} ({size / 1e6:.2f} MB) in {time.time() - started:.0f}s")
    print(f"SST-2 dev accuracy: {dev_acc:.4f} ({int(round(dev_acc * len(dev_seqs)))}/{len(dev_seqs)})")
