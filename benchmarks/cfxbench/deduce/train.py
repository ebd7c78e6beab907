"""Trains the two reference models of the DeDUCE protocol on Fashion-MNIST with cfx's trainer:
the spectrally normalised small ResNet (DeDUCE's model, c = 4) and the same network without
spectral normalisation (the baselines' model, as the paper does): 4 epochs reach 0.909 and 0.908 test
accuracy (about 9 min in all on the shared 2-core machine). Writes
benchmarks/models/fmnist_resnet_{sn,plain}.json + .safetensors (F32) and a training log.

    python3 benchmarks/harness.py deduce-train [--epochs 4] [--widths 8,16,32] [--force]
"""

import json
import time

from .common import MODELS, OUT, load_fashion_mnist, resnet_spec
import cfx


def add_arguments(parser) -> None:
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--widths", default="8,16,32")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--force", action="store_true")


def main(args) -> int:
    widths = tuple(int(w) for w in args.widths.split(","))
    x, y, xt, yt = load_fashion_mnist()
    MODELS.mkdir(parents=True, exist_ok=True)
    OUT.mkdir(parents=True, exist_ok=True)
    log = {}
    for name, spectral in (("sn", True), ("plain", False)):
        spec_path = MODELS / f"fmnist_resnet_{name}.json"
        if spec_path.exists() and not args.force:
            print(f"{spec_path} exists (--force retrains)")
            continue
        model = cfx.Model.from_json(resnet_spec(spectral, widths))
        started = time.time()
        report = model.train(x, y.astype(float), epochs=args.epochs, batch_size=64, optimizer="adam",
                             learning_rate=0.003, schedule={"type": "cosine"}, seed=0, n_threads=args.threads,
                             progress=lambda e: print(f"  {name} epoch {e['epoch']}: loss {e['loss']:.4f} "
                                                      f"accuracy {e['accuracy']:.4f} ({e['seconds']:.0f} s)", flush=True))
        seconds = time.time() - started
        accuracy = float((model.predict(xt).argmax(1) == yt).mean())
        print(f"{name}: test accuracy {accuracy:.4f} after {seconds:.0f} s")
        model.save(spec_path, MODELS / f"fmnist_resnet_{name}.safetensors", dtype="F32")
        log[name] = {"test_accuracy": accuracy, "train_seconds": seconds, "epochs": args.epochs, "widths": widths,
                     "history": report["history"]}
    if log:
        (MODELS / "fmnist_resnet_training.json").write_text(json.dumps(log, indent=1))
