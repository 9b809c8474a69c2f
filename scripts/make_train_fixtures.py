#!/usr/bin/env python3
"""Reference values for Inkread's training code, computed with PyTorch.

Writes, under tests/fixtures/train/:

  ctc_loss.json          random logits, targets (with repeated labels) and lengths; PyTorch's
                         `F.ctc_loss` (reduction "none" and "mean", zero_infinity) and the
                         gradient of the mean loss with respect to the logits. PyTorch's own
                         gradient with respect to `log_probs` assumes they came out of a
                         log_softmax (it returns exp(lp) - posterior), so the comparison is made
                         through log_softmax, where every correct implementation agrees.
  lines/*.png            eight short French lines drawn here in DejaVu Sans Oblique (Debian's
  lines/manifest.tsv     fonts-dejavu), with accents and a typographic apostrophe that EasyOCR's
                         English alphabet lacks: a base model cannot read them until training
                         adds those characters (the overfitting test).
  crnn_step.json         one AdamW step of EasyOCR's English CRNN (english_g2.pth) on a batch
  crnn_step.input.f32    of two lines: the loss before the step and, for every parameter, its
                         values after the step at fixed sample positions, plus the sum of
                         |after - before| over the whole tensor.

The CRNN is written out here in plain PyTorch with the parameterisation Inkread trains: batch
norms folded into the convolutions (as EasyOCR's eval mode computes them), each LSTM direction
with one bias (b_ih + b_hh, which PyTorch adds at every step anyway), matrices stored
transposed, parameters named as Burn names them. Before anything else the script checks that
this network reproduces EasyOCR's own output in tests/fixtures/easyocr/crnn_synthetic.*
(written by make_easyocr_fixtures.py with easyocr's model class).

Needs torch and numpy (scripts/requirements-fixtures.txt):

    python scripts/make_train_fixtures.py --weights "$(inkread models path easyocr-english-g2)/english_g2.pth"
"""

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "train"
EASYOCR = ROOT / "tests" / "fixtures" / "easyocr"
CONVS = [  # (state-dict index, batch norm index or None, padding)
    (0, None, 1), (3, None, 1), (6, None, 1), (8, None, 1), (11, 12, 1), (14, 15, 1), (18, None, 0),
]
SAMPLES_PER_PARAM = 64
LR, BETAS, EPS, WEIGHT_DECAY = 1e-3, (0.9, 0.999), 1e-8, 1e-2


def ctc_case():
    g = torch.Generator().manual_seed(7)
    frames, batch, classes = 20, 3, 7
    logits = torch.randn(frames, batch, classes, generator=g, dtype=torch.float64)
    targets = torch.tensor([[1, 2, 2, 3, 0], [4, 4, 4, 5, 6], [6, 0, 0, 0, 0]])
    # Padding is class 1 in Inkread's batches; its value must not matter.
    targets_padded = torch.where(targets == 0, torch.ones_like(targets), targets)
    target_lengths = torch.tensor([4, 5, 1])
    input_lengths = torch.full((batch,), frames, dtype=torch.long)
    logits.requires_grad_(True)
    lp = F.log_softmax(logits, dim=2)
    none = F.ctc_loss(lp, targets_padded, input_lengths, target_lengths, blank=0,
                      reduction="none", zero_infinity=True)
    mean = F.ctc_loss(lp, targets_padded, input_lengths, target_lengths, blank=0,
                      reduction="mean", zero_infinity=True)
    (grad,) = torch.autograd.grad(mean, logits)
    return {
        "logits_shape": [frames, batch, classes],
        "logits": logits.detach().flatten().tolist(),
        "targets": targets_padded.tolist(),
        "target_lengths": target_lengths.tolist(),
        "loss_none": none.detach().tolist(),
        "loss_mean": mean.item(),
        "grad_logits": grad.flatten().tolist(),
    }


def folded_params(state):
    """The CRNN's parameters as Inkread holds them: {burn path: tensor}."""
    p = {}
    for i, (idx, bn, _) in enumerate(CONVS):
        w = state[f"FeatureExtraction.ConvNet.{idx}.weight"].double()
        b = state.get(f"FeatureExtraction.ConvNet.{idx}.bias")
        b = torch.zeros(w.shape[0], dtype=torch.float64) if b is None else b.double()
        if bn is not None:
            pre = f"FeatureExtraction.ConvNet.{bn}"
            scale = state[f"{pre}.weight"].double() / torch.sqrt(state[f"{pre}.running_var"].double() + 1e-5)
            w = w * scale[:, None, None, None]
            b = (b - state[f"{pre}.running_mean"].double()) * scale + state[f"{pre}.bias"].double()
        p[f"convs.{i}.weight"], p[f"convs.{i}.bias"] = w, b
    for k in range(2):
        rnn = f"SequenceModeling.{k}.rnn"
        for direction, suffix in (("forward", ""), ("backward", "_reverse")):
            d = f"sequence.{k}.{direction}"
            p[f"{d}.input_weight"] = state[f"{rnn}.weight_ih_l0{suffix}"].double().t()
            p[f"{d}.hidden_weight"] = state[f"{rnn}.weight_hh_l0{suffix}"].double().t()
            p[f"{d}.bias"] = (state[f"{rnn}.bias_ih_l0{suffix}"] + state[f"{rnn}.bias_hh_l0{suffix}"]).double()
        p[f"sequence.{k}.linear.weight"] = state[f"SequenceModeling.{k}.linear.weight"].double().t()
        p[f"sequence.{k}.linear.bias"] = state[f"SequenceModeling.{k}.linear.bias"].double()
    p["prediction.weight"] = state["Prediction.weight"].double().t()
    p["prediction.bias"] = state["Prediction.bias"].double()
    return {k: v.float().contiguous() for k, v in p.items()}


def lstm_direction(x, p, d, reverse):
    batch, frames, _ = x.shape
    hidden = p[f"{d}.hidden_weight"].shape[0]
    projected = x @ p[f"{d}.input_weight"] + p[f"{d}.bias"]
    h = x.new_zeros(batch, hidden)
    c = x.new_zeros(batch, hidden)
    out = [None] * frames
    for step in range(frames):
        t = frames - 1 - step if reverse else step
        g = projected[:, t] + h @ p[f"{d}.hidden_weight"]
        i, f, cand, o = g.split(hidden, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(cand)
        h = torch.sigmoid(o) * torch.tanh(c)
        out[t] = h
    return torch.stack(out, dim=1)


def crnn_forward(x, p):
    def conv(x, i):
        return F.conv2d(x, p[f"convs.{i}.weight"], p[f"convs.{i}.bias"], padding=CONVS[i][2])
    x = F.max_pool2d(F.relu(conv(x, 0)), 2)
    x = F.max_pool2d(F.relu(conv(x, 1)), 2)
    x = F.max_pool2d(F.relu(conv(F.relu(conv(x, 2)), 3)), (2, 1))
    x = F.max_pool2d(F.relu(conv(F.relu(conv(x, 4)), 5)), (2, 1))
    x = F.relu(conv(x, 6))
    seq = x.mean(dim=2).transpose(1, 2)
    for k in range(2):
        both = torch.cat([lstm_direction(seq, p, f"sequence.{k}.forward", False),
                          lstm_direction(seq, p, f"sequence.{k}.backward", True)], dim=2)
        seq = both @ p[f"sequence.{k}.linear.weight"] + p[f"sequence.{k}.linear.bias"]
    return seq @ p["prediction.weight"] + p["prediction.bias"]


def check_against_easyocr(params):
    meta = json.loads((EASYOCR / "crnn_synthetic.json").read_text())
    x = np.fromfile(EASYOCR / meta["input"], dtype="<f4").reshape([1] + meta["input_shape"])
    expected = np.fromfile(EASYOCR / meta["output"], dtype="<f4").reshape(meta["output_shape"])
    with torch.no_grad():
        ours = crnn_forward(torch.from_numpy(x), params)[0].numpy()
    diff = float(np.abs(ours - expected).max())
    assert diff < 1e-4, f"the folded CRNN differs from EasyOCR's by {diff}"
    print(f"folded CRNN vs EasyOCR's output: max |diff| {diff:.2e}")
    return torch.from_numpy(x)


def crnn_step_case(weights):
    state = torch.load(weights, map_location="cpu", weights_only=True)
    state = {k.removeprefix("module."): v for k, v in state.items()}
    params = folded_params(state)
    synthetic = check_against_easyocr(params)
    # Two lines: EasyOCR's synthetic line, and the same flipped left-right.
    x = torch.cat([synthetic, synthetic.flip(3)], dim=0)
    targets = torch.tensor([[34, 5, 12, 12, 15], [50, 59, 58, 1, 1]])
    target_lengths = torch.tensor([5, 3])
    for t in params.values():
        t.requires_grad_(True)
    before = {k: v.detach().clone() for k, v in params.items()}
    optim = torch.optim.AdamW(list(params.values()), lr=LR, betas=BETAS, eps=EPS, weight_decay=WEIGHT_DECAY)
    logits = crnn_forward(x, params)
    lp = F.log_softmax(logits, dim=2).transpose(0, 1)
    frames = lp.shape[0]
    loss = F.ctc_loss(lp, targets, torch.full((2,), frames, dtype=torch.long), target_lengths,
                      blank=0, reduction="mean", zero_infinity=True)
    optim.zero_grad()
    loss.backward()
    optim.step()
    out = {"lr": LR, "betas": list(BETAS), "eps": EPS, "weight_decay": WEIGHT_DECAY,
           "input_shape": list(x.shape), "input": "crnn_step.input.f32",
           "targets": targets.tolist(), "target_lengths": target_lengths.tolist(),
           "loss": loss.item(), "params": {}}
    for name, t in params.items():
        after = t.detach().flatten()
        n = after.numel()
        index = sorted({(i * 7919) % n for i in range(min(SAMPLES_PER_PARAM, n))})
        out["params"][name] = {
            "shape": list(t.shape),
            "index": index,
            "after": after[index].tolist(),
            "abs_update_sum": float((after - before[name].flatten()).abs().double().sum()),
        }
    x.numpy().astype("<f4").tofile(OUT / "crnn_step.input.f32")
    return out


LINES = [
    "été à Noël",
    "ça coûte cher",
    "l’œuvre née",
    "où est-il ?",
    "très français",
    "déjà vu",
    "mère et père",
    "garçon âgé",
]
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Oblique.ttf"


def write_lines():
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(FONT, 30)
    folder = OUT / "lines"
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["path\ttranscription\tsplit"]
    for i, text in enumerate(LINES):
        left, top, right, bottom = font.getbbox(text)
        image = Image.new("L", (right - left + 16, 48), 236)
        ImageDraw.Draw(image).text((8 - left, 8), text, font=font, fill=30)
        name = f"line_{i}.png"
        image.save(folder / name, optimize=True)
        rows.append(f"{name}\t{text}\ttrain")
    (folder / "manifest.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True, help="english_g2.pth")
    args = ap.parse_args()
    torch.manual_seed(0)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "ctc_loss.json").write_text(json.dumps(ctc_case()))
    (OUT / "crnn_step.json").write_text(json.dumps(crnn_step_case(args.weights)))
    write_lines()
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
