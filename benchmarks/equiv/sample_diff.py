"""Largest |yA − yB| of the bundled PyTorch model and its ONNX Runtime export over random inputs
of the ε = 1 and ε = 2 boxes around bundled vectors 0–9 (evidence for `--delta 1`, not a proof).
Run from the repository root with the Python package installed; needs a CPU with VNNI."""
import json, numpy as np, quiver, time
a = quiver.load("benchmarks/models/mnist_mlp.json")
b = quiver.load("benchmarks/models/mnist_mlp_torch_qdq.onnx", ort_cpu="vnni")
vec = json.load(open("benchmarks/models/mnist_mlp.vectors.json"))["inputs"]
rng = np.random.default_rng(0)
t = time.time()
for k in range(10):
    x0 = np.array(vec[k]); best = 0; n = 0
    for eps in (1, 2):
        for _ in range(3000):
            x = np.clip(x0 + rng.integers(-eps, eps + 1, size=784), 0, 255)
            d = np.max(np.abs(a.run(x) - b.run(x))); n += 1
            best = max(best, d)
    print(k, "max |diff| over", n, "samples:", best, flush=True)
print(time.time() - t)
