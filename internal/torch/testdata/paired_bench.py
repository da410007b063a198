#!/usr/bin/python3
"""Paired throughput comparison of facesynth's DeepFakes training step with PyTorch's.

On a shared machine the load changes within seconds, so back-to-back runs of the two
programs compare different conditions. This driver keeps both models warm and alternates
single reps (5 steps, batch 16), ABBA-ordered, so each pair sees about the same load:

    go test -c -o /tmp/torch.test ./internal/torch/
    /usr/bin/python3 internal/torch/testdata/paired_bench.py /tmp/torch.test light 20

Variables GOSIDE_NAME=value in the environment are passed to the Go side only, as
NAME=value (e.g. GOSIDE_OPENBLAS_NUM_THREADS=1). The PyTorch side is /work/shared/bench/deepfakes_reference.py's own model code, executed
up to its timing loop.
"""
import os
import statistics
import subprocess
import sys
import time

test_bin, variant, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
ref = os.environ.get("REFERENCE", "/work/shared/bench/deepfakes_reference.py")
sys.argv = [ref, "--variant", variant, "--mode", "train"]
src = open(ref).read()
ns = {"__name__": "reference"}
exec(compile(src.split("def train_step")[0], ref, "exec"), ns)
torch, F, model, opt, x, y = ns["torch"], ns["F"], ns["model"], ns["opt"], ns["x"], ns["y"]


def py_step():
    opt.zero_grad(set_to_none=True)
    F.l1_loss(model(x), y).backward()
    opt.step()


def py_rep():
    t0 = time.perf_counter()
    for _ in range(5):
        py_step()
    return 5 * x.shape[0] / (time.perf_counter() - t0)


go_env = dict(os.environ, FACESYNTH_TORCH_BENCH=variant, FACESYNTH_TORCH_BENCH_STDIN="1")
go_env.update({k[len("GOSIDE_"):]: v for k, v in os.environ.items() if k.startswith("GOSIDE_")})
go = subprocess.Popen([test_bin, "-test.run", "DeepFakesThroughput"], stdin=subprocess.PIPE,
                      stdout=subprocess.PIPE, text=True, env=go_env)


def go_line():
    while True:
        line = go.stdout.readline()
        if not line:
            sys.exit("go benchmark ended early")
        if line.startswith(("READY", "REP")):
            return line.split()


def go_rep():
    go.stdin.write("rep\n")
    go.stdin.flush()
    return float(go_line()[1])


go_line()  # READY
for _ in range(3):
    py_step()
g, p = [], []
for i in range(rounds):
    if i % 2 == 0:
        g.append(go_rep()); p.append(py_rep())
    else:
        p.append(py_rep()); g.append(go_rep())
    print(f"round {i}: facesynth {g[-1]:.2f} pytorch {p[-1]:.2f} ratio {g[-1] / p[-1]:.2f}", flush=True)
go.stdin.close()
go.wait()
ratios = [a / b for a, b in zip(g, p)]
print(f"RESULT facesynth {variant} train median {statistics.median(g):.2f} img/s")
print(f"RESULT pytorch {variant} train median {statistics.median(p):.2f} img/s")
print(f"RATIO {variant} median of paired ratios {statistics.median(ratios):.3f} "
      f"(quartiles {statistics.quantiles(ratios, n=4)[0]:.3f} {statistics.quantiles(ratios, n=4)[2]:.3f}, "
      f"{rounds} pairs, torch {torch.__version__} threads {torch.get_num_threads()})")
