#!/usr/bin/env python3
"""The benchmarks' one entry point: `python3 benchmarks/harness.py SUBCOMMAND [options]`.

    python3 benchmarks/harness.py                    # lists the subcommands
    python3 benchmarks/harness.py SUBCOMMAND --help  # a subcommand's options
    python3 benchmarks/harness.py --suite iris       # = `suite --suite iris` (a first argument that is an option)

It sets up the imports once: this folder is on sys.path (the script's own folder), the in-tree
binding (bindings/python) when cfx is not installed, and CFX_LIBRARY defaults to the repository's
release build. Each subcommand is a module with `add_arguments(parser)` and `main(args) -> int`,
named in SUBCOMMANDS below and imported only when it runs (torch, sklearn and the library load
only for the subcommands that need them), or a shell script (a path ending in .sh, relative to
this folder) that builds and times C or Swift code: it runs from the repository root with its
arguments, PYTHONPATH set as above and CFX_BENCH_COMMAND holding the harness command, and takes
its provenance from `harness.py env`. benchmarks/README.md says how a suite adds one.
"""
import argparse
import importlib
import importlib.util
import os
import pathlib
import shlex
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
if importlib.util.find_spec("cfx") is None:
    sys.path.insert(0, str(ROOT / "bindings" / "python"))
if "CFX_LIBRARY" not in os.environ and (ROOT / ".build/release/libcfx.so").exists():
    os.environ["CFX_LIBRARY"] = str(ROOT / ".build/release/libcfx.so")

# name -> (module, what it measures). Adding a suite: a module with add_arguments(parser) and
# main(args), and one line here.
SUBCOMMANDS = {
    "suite": ("cfxbench.suite_command", "a suite's metrics for every cfx method against alibi and DiCE; "
              "scaling; sparse and diverse sets; the headline table"),
    "env": ("cfxbench.env", "the provenance of a run (date, machine, CPU, load, commit, library) as JSON "
            "or Markdown, for shell and C programs"),
    "mlp-speed": ("cfxbench.mlp_speed", "ms per counterfactual of Wachter and CFProto on alibi's MLPs, one row per "
                  "call, three output configurations; alibi in the same run (--alibi-n)"),
    "isa-compare": ("cfxbench.isa_compare", "two mlp-speed runs (native kernels, AVX2 forced) side by side"),
    "fmnist-threads": ("cfxbench.fmnist_threads", "fashion_mnist's Wachter / CFProto in float32 and float64 on "
                       "1 and 2 threads, one process"),
    "torch": ("cfxbench.torch_side_by_side", "cfx (float32, float64) against PyTorch CPU on the same weights: the "
              "DeDUCE ResNet-18 and the Fashion-MNIST CNN, forward and input gradient; DeDUCE per iteration"),
    "reference-models": ("cfxbench.reference_models", "trains the reference models of benchmarks/models with cfx's "
                         "trainer (digits, Fashion-MNIST, tabular MLPs)"),
    "dask": ("cfxbench.dask_bench", "cfx.dask: one process against a LocalCluster of 2 workers (results/dask/)"),
    "dask-partition": ("cfxbench.dask_partition", "where a cfx.dask partition's time goes, inside two busy workers"),
    "wachter": ("cfxbench.wachter", "Wachter on iris through the C ABI (native, callback, threads, return_all) "
                "against alibi; results/wachter_iris.{md,json}"),
    "cfproto": ("cfxbench.cfproto", "CFProto per counterfactual (iris, breast cancer, HMDA, Fashion-MNIST; native "
                "and black box) and k-d tree queries; results/cfproto.md"),
    "json-decode": ("cfxbench.json_decode", "what decoding an explanation's JSON costs in Python (json, orjson, "
                    "a binary floor)"),
    "json-output": ("json/run_json.sh", "what an explanation's output costs: writing (C), cfx_explain per row (C), "
                    "decoding (Python); results/json_output.md"),
    "networks": ("networks/run_networks.sh", "GEMM and a small ResNet's forward + gradient (Swift); results/networks.md"),
    "conv-backends": ("networks/run_conv_backends.sh", "im2col + OpenBLAS against oneDNN on the ResNet-18's "
                      "convolutions (C)"),
    "conv-few-channels": ("networks/run_conv_few_channels.sh", "oneDNN against cfx's direct kernels for a one-channel "
                          "convolution, input gradient and forward (C); results/conv_few_channels.md"),
    "dense-rows": ("networks/run_dense_rows.sh", "OpenBLAS sgemm against cfx's small-product kernels, 1-8 rows (C)"),
    "profile-resnet": ("networks/profile_resnet.sh", "where a ResNet-18 step's time goes (perf)"),
    "profile-cnn": ("networks/profile_cnn.sh", "where a Fashion-MNIST CNN search step's instructions go "
                    "(callgrind, AVX2 clone); results/fashion_cnn_profile.md"),
    "training": ("cli/run_training.sh", "training throughput on digits through cfx-cli; results/training_digits.md"),
    "cli-stream": ("cli/cli_stream.sh", "cfx-cli explain --output streaming N iris rows; results/cli_stream.md"),
    "deduce-train": ("cfxbench.deduce.train", "trains the DeDUCE protocol's ResNets (spectrally normalised and plain) "
                     "on Fashion-MNIST"),
    "deduce-protocol": ("cfxbench.deduce.protocol", "the DeDUCE paper's Fashion-MNIST protocol: DeDUCE, JSMA, CFProto"),
    "deduce-dtypes": ("cfxbench.deduce.dtypes", "DeDUCE and JSMA with the networks in float32 against float64"),
    "ct-paper": ("counterfactual_training.paper", "counterfactual training under the paper's protocol (LS, Circ, Moon, "
                 "OL, Fashion-MNIST), side by side with the paper's table"),
    "ct-beyond": ("counterfactual_training.beyond", "CT vs conventional networks under Wachter, CFProto and DeDUCE; CT's "
                  "training time on 1 and 2 threads"),
    "trees": ("cfxbench.trees", "cfx's tree methods on 100-tree random forests (breast cancer, HMDA) against the l1 "
              "optimum (a MILP after OCEAN, HiGHS) and DiCE random/genetic: validity, l1/l0, constraints, time; "
              "results/trees_forest.{md,json}"),
    "onnx-resnet18": ("cfxbench.onnx_resnet18", "a ResNet-18 loaded from ONNX and from cfx's spec: load time, agreement "
                      "with onnxruntime, DeDUCE on both; results/onnx_resnet18.{md,json}"),
    "protobuf-cost": ("onnx/protobuf_cost.sh", "what swift-protobuf would cost libcfx.so (size, NEEDED, dlopen); "
                      "results/onnx_protobuf_cost.md"),
}


def usage() -> str:
    width = max(map(len, SUBCOMMANDS))
    return (__doc__.split("\n\n")[0] + "\n\nsubcommands:\n"
            + "\n".join(f"  {name:{width}s}  {about}" for name, (_, about) in SUBCOMMANDS.items()))


def main(argv) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if argv else 2
    name, rest = (argv[0], argv[1:]) if not argv[0].startswith("-") else ("suite", argv)
    if name not in SUBCOMMANDS:
        print(f"harness.py: unknown subcommand {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    target = SUBCOMMANDS[name][0]
    if target.endswith(".sh"):
        return run_script(HERE / target, name, rest)
    module = importlib.import_module(target)
    parser = argparse.ArgumentParser(prog=f"harness.py {name}", description=module.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    module.add_arguments(parser)
    return module.main(parser.parse_args(rest)) or 0


def run_script(script, name, arguments) -> int:
    """Runs a shell subcommand from the repository root, with the imports this process has."""
    paths = [str(p) for p in map(pathlib.Path, filter(None, sys.path))
             if p.resolve() in (HERE, ROOT / "bindings" / "python")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths + [os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
               CFX_BENCH_COMMAND=" ".join(["python3 benchmarks/harness.py", name, *map(shlex.quote, arguments)]))
    return subprocess.run(["bash", str(script), *arguments], cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
