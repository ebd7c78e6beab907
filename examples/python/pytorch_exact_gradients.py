"""A PyTorch classifier explained by cfx, two ways: as a callback model whose gradients come from
torch.autograd (exact, no numerical differences), and exported to a native cfx network.

    pip install bindings/python torch && python3 examples/python/pytorch_exact_gradients.py

Trains a small CNN on scikit-learn's 8×8 digits with PyTorch, then asks Wachter, JSMA and DeDUCE
what would turn a few test digits into another class.
"""
import warnings

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

import cfx
from cfx.export import from_torch, inline_tensors

digits = load_digits()
X_train, X_test, y_train, y_test = train_test_split(digits.data / 16.0, digits.target, test_size=0.25,
                                                    random_state=0, stratify=digits.target)
torch.manual_seed(0)
torch.set_num_threads(1)
net = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                    nn.Linear(256, 64), nn.ReLU(), nn.Linear(64, 10), nn.Softmax(dim=1))
xs, ys = torch.tensor(X_train, dtype=torch.float32).reshape(-1, 1, 8, 8), torch.tensor(y_train)
opt = torch.optim.Adam(net.parameters(), lr=3e-3)
for epoch in range(15):
    for i in torch.randperm(len(xs)).split(32):
        opt.zero_grad()
        nn.functional.cross_entropy(net[:-1](xs[i]), ys[i]).backward()
        opt.step()
net.eval()
with torch.no_grad():
    accuracy = (net(torch.tensor(X_test, dtype=torch.float32).reshape(-1, 1, 8, 8)).argmax(1).numpy() == y_test).mean()
print(f"PyTorch CNN test accuracy {accuracy:.3f}")

# 1. The module itself behind a callback model: predict and vjp run in PyTorch.
callback = cfx.torch.as_model(net, [1, 8, 8])
# 2. The same network exported: cfx runs it natively; "features" names the 64-wide hidden layer.
native = cfx.Model.from_json(inline_tensors(*from_torch(net, [1, 8, 8], names={"5": "features"})))
print("max |callback - native| probability:", float(np.abs(callback.predict(X_test) - native.predict(X_test)).max()))

instances, target = X_test[:5], 3
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    runs = {
        "Wachter, PyTorch gradients": cfx.Wachter(callback, target_class=target, feature_range=(0, 1),
                                                  return_all=False, n_threads=1).explain(instances),
        "Wachter, native network": cfx.Wachter(native, target_class=target, feature_range=(0, 1),
                                               return_all=False).explain(instances),
        "JSMA, PyTorch gradients": cfx.JSMA(callback, target_class=target, n_threads=1).explain(instances),
        "DeDUCE, native network": cfx.DeDUCE(native, target_class=target).fit(X_train, y_train).explain(instances),
    }
print(f"\nturning 5 test digits into a {target}:")
for name, explanations in runs.items():
    found = [e for e in explanations if e.cf is not None]
    changed = np.mean([np.sum(np.abs(e.cf["X"] - x) > 1e-6) for e, x in zip(explanations, instances) if e.cf is not None])
    calls = np.mean([e.meta["model_calls"] for e in explanations])
    print(f"  {name:28} {len(found)}/5 found, {changed:5.1f} pixels changed on average, {calls:6.0f} model calls each")
