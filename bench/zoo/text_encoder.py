"""A small caption encoder trained jointly with the UNet, so the zoo needs no hub weights."""

from __future__ import annotations

import re

import torch
from torch import nn

PAD, UNK = 0, 1


def tokenize(text: str) -> list[str]:
    return re.findall(r"[a-z]+|,", text.lower())


def build_vocab(captions: list[str]) -> list[str]:
    """Sorted closed vocabulary of the training captions (deterministic across runs)."""
    return ["<pad>", "<unk>"] + sorted({w for c in captions for w in tokenize(c)})


class CaptionEncoder(nn.Module):
    """Embedding + positional table + one transformer layer -> (B, L, D) cross-attention states."""

    def __init__(self, vocab: list[str], dim: int = 64, max_len: int = 32, layers: int = 1) -> None:
        super().__init__()
        self.vocab = list(vocab)
        self.lookup = {w: i for i, w in enumerate(self.vocab)}
        self.max_len = max_len
        self.embed = nn.Embedding(len(vocab), dim)
        self.position = nn.Parameter(torch.zeros(max_len, dim))
        layer = nn.TransformerEncoderLayer(
            dim, nhead=4, dim_feedforward=2 * dim, batch_first=True, dropout=0.0
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

    def ids(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        ids = torch.full((len(captions), self.max_len), PAD, dtype=torch.long)
        for row, text in enumerate(captions):
            toks = [self.lookup.get(w, UNK) for w in tokenize(text)][: self.max_len]
            ids[row, : len(toks)] = torch.tensor(toks, dtype=torch.long)
        return ids, ids != PAD

    def forward(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        ids, mask = self.ids(captions)
        ids, mask = ids.to(self.position.device), mask.to(self.position.device)
        h = self.embed(ids) + self.position
        return self.encoder(h, src_key_padding_mask=~mask), mask
