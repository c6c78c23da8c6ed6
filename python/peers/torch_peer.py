"""PyTorch peer for routerlab's MLP and MF routers (gateway-contract.md §6.2, §6.3).

Modes (one JSON spec file in, one JSON object out on stdout):
  forward-many <spec>    the same for a list of specs ({"items": [...]}), one interpreter start.
  forward <spec.json>    build the contract's module, load the given float32 tensors with a strict
                         load_state_dict, run forward on the probe embeddings, print logits/scores + argmax.
  train-mlp <spec.json>  time training of the same MLP architecture (Adam, CE, mini-batches) on synthetic data.
  train-mf <spec.json>   time RouteLLM-style MF training on synthetic (winner, loser) pairs.

Tensors and probes are raw little-endian float32 files named in the spec; shapes are given in the spec.
"""

import json
import sys
import time

import numpy as np
import torch
from torch import nn

torch.set_num_threads(int(torch.get_num_threads()))


class MLP(nn.Module):
    """The gateway's MLP: a ModuleList of Linear layers, activation after every hidden one."""

    def __init__(self, input_dim, hidden, num_classes, activation):
        super().__init__()
        dims = [input_dim, *hidden, num_classes]
        self.layers = nn.ModuleList(nn.Linear(dims[i], dims[i + 1]) for i in range(len(dims) - 1))
        self.act = {
            "relu": torch.relu,
            "tanh": torch.tanh,
            "logistic": torch.sigmoid,
            "identity": lambda x: x,
        }[activation]

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = self.act(layer(x))
        return self.layers[-1](x)


class MF(nn.Module):
    """RouteLLM / gateway bilinear MF: P, text_proj and classifier, no biases."""

    def __init__(self, num_models, latent_dim, text_dim):
        super().__init__()
        self.P = nn.Embedding(num_models, latent_dim)
        self.text_proj = nn.Linear(text_dim, latent_dim, bias=False)
        self.classifier = nn.Linear(latent_dim, 1, bias=False)

    def scores(self, e):
        p = self.text_proj(e)  # [n, K]
        ph = self.P.weight / self.P.weight.norm(dim=1, keepdim=True).clamp_min(1e-12)  # [M, K]
        return (p.unsqueeze(1) * ph.unsqueeze(0) * self.classifier.weight[0]).sum(-1)  # [n, M]

    def pair_logit(self, e, win, lose):
        ph = self.P.weight / self.P.weight.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return self.classifier((ph[win] - ph[lose]) * self.text_proj(e)).squeeze(-1)


def read_f32(path, shape):
    arr = np.fromfile(path, dtype="<f4")
    n = int(np.prod(shape))
    if arr.size != n:
        raise SystemExit(f"{path}: {arr.size} floats, expected {n} for shape {shape}")
    return torch.from_numpy(arr.reshape(shape).copy())


def forward(spec):
    state = {k: read_f32(v["file"], v["shape"]) for k, v in spec["tensors"].items()}
    probes = read_f32(spec["probes"]["file"], [spec["probes"]["rows"], spec["probes"]["dim"]])
    if spec["kind"] == "mlp":
        model = MLP(spec["input_dim"], spec["hidden_layer_sizes"], spec["num_classes"], spec["activation"])
    elif spec["kind"] == "mf":
        model = MF(spec["num_models"], spec["latent_dim"], spec["text_dim"])
    else:
        raise SystemExit(f"unknown kind {spec['kind']}")
    model.load_state_dict(state, strict=True)
    model.eval()
    with torch.no_grad():
        out = model(probes) if spec["kind"] == "mlp" else model.scores(probes)
    return {"values": out.double().tolist(), "argmax": out.argmax(dim=1).tolist(), "torch": torch.__version__}


def forward_many(spec):
    return {"items": [forward(item) for item in spec["items"]]}


def train_mlp(spec):
    torch.manual_seed(spec["seed"])
    g = np.random.default_rng(spec["seed"])
    n, d, c = spec["rows"], spec["dim"], spec["num_classes"]
    x = torch.from_numpy(g.standard_normal((n, d), dtype=np.float32))
    y = torch.from_numpy(g.integers(0, c, n))
    model = MLP(d, spec["hidden_layer_sizes"], c, spec["activation"])
    opt = torch.optim.Adam(model.parameters(), lr=spec["learning_rate"])
    loss_fn = nn.CrossEntropyLoss()
    bs = spec["batch_size"]
    t0 = time.perf_counter()
    for _ in range(spec["epochs"]):
        perm = torch.randperm(n)
        for i in range(0, n, bs):
            idx = perm[i : i + bs]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
    return {"seconds": time.perf_counter() - t0, "final_loss": float(loss.detach()), "threads": torch.get_num_threads()}


def train_mf(spec):
    torch.manual_seed(spec["seed"])
    g = np.random.default_rng(spec["seed"])
    nq, d, m, npairs = spec["queries"], spec["dim"], spec["num_models"], spec["pairs"]
    e = torch.from_numpy(g.standard_normal((nq, d), dtype=np.float32))
    q = torch.from_numpy(g.integers(0, nq, npairs))
    win = torch.from_numpy(g.integers(0, m, npairs))
    lose = (win + torch.from_numpy(g.integers(1, m, npairs))) % m
    model = MF(m, spec["latent_dim"], d)
    opt = torch.optim.Adam(model.parameters(), lr=spec["learning_rate"], weight_decay=spec["weight_decay"])
    loss_fn = nn.BCEWithLogitsLoss()
    bs = spec["batch_size"]
    t0 = time.perf_counter()
    for _ in range(spec["epochs"]):
        perm = torch.randperm(npairs)
        for i in range(0, npairs, bs):
            idx = perm[i : i + bs]
            emb = e[q[idx]]
            emb = emb + torch.randn_like(emb) * spec["noise"]
            logit = model.pair_logit(emb, win[idx], lose[idx])
            loss = loss_fn(logit, torch.ones_like(logit))
            opt.zero_grad()
            loss.backward()
            opt.step()
    return {"seconds": time.perf_counter() - t0, "final_loss": float(loss.detach()), "threads": torch.get_num_threads()}


def steps_mf(spec):
    """Full-batch Adam steps (no noise) from given weights on given pairs: checks routerlab's MF training maths."""
    state = {k: read_f32(v["file"], v["shape"]) for k, v in spec["tensors"].items()}
    e = read_f32(spec["probes"]["file"], [spec["probes"]["rows"], spec["probes"]["dim"]])
    model = MF(spec["num_models"], spec["latent_dim"], spec["text_dim"])
    model.load_state_dict(state, strict=True)
    opt = torch.optim.Adam(model.parameters(), lr=spec["learning_rate"], weight_decay=spec["weight_decay"])
    q = torch.tensor(spec["q"])
    win = torch.tensor(spec["win"])
    lose = torch.tensor(spec["lose"])
    target = torch.tensor(spec["target"], dtype=torch.float32)
    loss_fn = nn.BCEWithLogitsLoss()
    for _ in range(spec["steps"]):
        opt.zero_grad()
        loss = loss_fn(model.pair_logit(e[q], win, lose), target)
        loss.backward()
        opt.step()
    return {k: v.detach().double().flatten().tolist() for k, v in model.state_dict().items()}


def steps_mlp(spec):
    """Full-batch Adam steps from given weights with class-weighted CE: checks routerlab's MLP training maths."""
    state = {k: read_f32(v["file"], v["shape"]) for k, v in spec["tensors"].items()}
    x = read_f32(spec["probes"]["file"], [spec["probes"]["rows"], spec["probes"]["dim"]])
    model = MLP(spec["input_dim"], spec["hidden_layer_sizes"], spec["num_classes"], spec["activation"])
    model.load_state_dict(state, strict=True)
    opt = torch.optim.Adam(model.parameters(), lr=spec["learning_rate"])
    y = torch.tensor(spec["y"])
    loss_fn = nn.CrossEntropyLoss(weight=torch.tensor(spec["class_weight"], dtype=torch.float32))
    for _ in range(spec["steps"]):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    return {k: v.detach().double().flatten().tolist() for k, v in model.state_dict().items()}


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    mode, path = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        spec = json.load(f)
    fn = {"forward": forward, "forward-many": forward_many, "train-mlp": train_mlp, "train-mf": train_mf, "steps-mf": steps_mf, "steps-mlp": steps_mlp}.get(mode)
    if fn is None:
        raise SystemExit(f"unknown mode {mode}\n{__doc__}")
    json.dump(fn(spec), sys.stdout)


if __name__ == "__main__":
    main()
