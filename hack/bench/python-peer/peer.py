"""The seed's stack done well, as a peer for `npm run bench`: confluent-kafka, onnxruntime and Hugging Face
tokenizers, batched. One process: consume(500) (the seed's max.poll.records), one batched inference over the
worker's model files with the worker's truncation and padding, produce with acks=all, commit per batch.

    peer.py serve BOOTSTRAP REQUESTS RESPONSES GROUP MODEL_DIR MAX_SEQUENCE_LENGTH
        runs until SIGTERM (the bench watches the group's committed offsets)
    peer.py labels MODEL_DIR MAX_SEQUENCE_LENGTH
        reads a JSON list of texts on stdin, prints their labels as a JSON list (to compare with the worker's)
"""

import json
import signal
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from confluent_kafka import Consumer, KafkaException, Producer
from tokenizers import Tokenizer

BATCH = 500


class Model:
    def __init__(self, model_dir: str, max_length: int):
        directory = Path(model_dir)
        config = json.loads((directory / "config.json").read_text())
        tokenizer_config = json.loads((directory / "tokenizer_config.json").read_text())
        self.labels = [config["id2label"][str(i)] for i in range(len(config["id2label"]))]
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        pad_token = tokenizer_config["pad_token"]
        # The worker's truncation keeps the closing [SEP]; tokenizers' does too (it leaves room for the template).
        self.tokenizer.enable_truncation(max_length=min(max_length, tokenizer_config.get("model_max_length", max_length)))
        self.tokenizer.enable_padding(pad_id=self.tokenizer.token_to_id(pad_token), pad_token=pad_token)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(directory / "model.onnx"), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def classify(self, texts: list[str]) -> list[tuple[str, float]]:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        feeds = {
            "input_ids": ids,
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.zeros_like(ids),
        }
        (logits,) = self.session.run(["logits"], {name: feeds[name] for name in self.inputs})
        exps = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs = exps / exps.sum(axis=1, keepdims=True)
        best = probs.argmax(axis=1)
        return [(self.labels[b], float(p[b])) for b, p in zip(best, probs)]


def serve(bootstrap: str, requests: str, responses: str, group: str, model: Model) -> None:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    running = True

    def stop(*_):
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    consumer.subscribe([requests])
    print("ready", flush=True)
    while running:
        messages = [m for m in consumer.consume(BATCH, timeout=0.5) if m.error() is None]
        if not messages:
            continue
        parsed = [json.loads(m.value()) for m in messages]
        for request, (label, score) in zip(parsed, model.classify([r["text"] for r in parsed])):
            producer.produce(
                responses, key=request["id"], value=json.dumps({"id": request["id"], "label": label, "score": score})
            )
        # At least once: the batch's responses are acknowledged by all in-sync replicas before its offsets commit.
        if producer.flush(30) > 0:
            raise KafkaException("responses not acknowledged within 30 s")
        consumer.commit(asynchronous=False)
    consumer.close()


def main() -> None:
    command, *args = sys.argv[1:]
    if command == "serve":
        bootstrap, requests, responses, group, model_dir, max_length = args
        serve(bootstrap, requests, responses, group, Model(model_dir, int(max_length)))
    elif command == "labels":
        model_dir, max_length = args
        model = Model(model_dir, int(max_length))
        texts = json.load(sys.stdin)
        print(json.dumps([label for i in range(0, len(texts), BATCH) for label, _ in model.classify(texts[i : i + BATCH])]))
    else:
        sys.exit(f"unknown command {command!r}: serve or labels")


if __name__ == "__main__":
    main()
