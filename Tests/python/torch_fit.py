"""Training of the small PyTorch models the tests export (test_export_torch.py, test_onnx_zoo.py)."""
import torch


def fit(module, X, y, shape, epochs, lr=3e-3, seed=0, logits=None):
    """A few epochs of Adam on cross-entropy; returns the module in eval mode. ``logits`` gives the
    logits of a batch (default: everything before the module's final Softmax, ``module[:-1]``)."""
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    xs = torch.tensor(X, dtype=torch.float32).reshape((-1,) + tuple(shape))
    ys = torch.tensor(y)
    logits = logits or module[:-1]
    opt = torch.optim.Adam(module.parameters(), lr=lr)
    module.train()
    for _ in range(epochs):
        order = torch.randperm(len(xs))
        for i in range(0, len(xs), 32):
            idx = order[i:i + 32]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(logits(xs[idx]), ys[idx]).backward()
            opt.step()
    return module.eval()
