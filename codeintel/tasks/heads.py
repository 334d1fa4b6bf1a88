"""Task heads around a backbone: pair classification (clone detection) and embeddings (clone retrieval).

Sequence-to-sequence tasks use the transformers model as is.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from codeintel.backbones import graphcodebert, roberta, t5


class PairClassifier(nn.Module):
    """Clone detection, BigCloneBench style: both programs through one encoder, head on [v1; v2].

    T5 family: CodeT5's last-``</s>`` decoder vector and its dropout-free head. RoBERTa family:
    GraphCodeBERT's ``<s>`` vector and ``RobertaClassificationHead``.
    """

    def __init__(self, backbone: nn.Module, family: str, eos_id: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.backbone, self.family, self.eos_id = backbone, family, eos_id
        hidden = backbone.config.d_model if family == "t5" else backbone.config.hidden_size
        self.head = t5.pair_head(hidden) if family == "t5" else roberta.pair_head(hidden, dropout)

    def vectors(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                position_ids: torch.Tensor | None = None) -> torch.Tensor:
        """(N, L) programs -> (N, H); with ``position_ids`` the input is GraphCodeBERT's graph-guided one."""
        if position_ids is not None:
            return graphcodebert.encode(self.backbone, input_ids, position_ids, attention_mask)[:, 0]
        if self.family == "t5":
            return t5.eos_decoder_vector(self.backbone, input_ids, attention_mask, self.eos_id)
        return roberta.first_token_vector(self.backbone, input_ids, attention_mask)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                position_ids: torch.Tensor | None = None) -> torch.Tensor:
        """input_ids (B, 2, L), attention_mask (B, 2, L) or graph (B, 2, L, L) -> logits (B, 2)."""
        b, two = input_ids.shape[:2]
        def flat(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(b * two, *t.shape[2:])

        pos = flat(position_ids) if position_ids is not None else None
        vec = self.vectors(flat(input_ids), flat(attention_mask), pos)                # (2B, H)
        return self.head(vec.reshape(b, -1))                                          # (B, 2)


class Retriever(nn.Module):
    """Clone retrieval, POJ-104 style: one L2-normalised vector per program, ranked by cosine similarity.

    RoBERTa and T5: the mean of the encoder's last layer over real tokens; CodeT5+ embedding: its own
    first-token projection. (CodeXGLUE's POJ-104 baseline takes RoBERTa's pooler output; from a random
    or lightly trained pooler its tanh saturates and the contrastive loss collapses every program onto
    one point, so the mean is the default here.)
    """

    def __init__(self, backbone: nn.Module, family: str) -> None:
        super().__init__()
        self.backbone, self.family = backbone, family

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                position_ids: torch.Tensor | None = None) -> torch.Tensor:
        """(B, L) -> (B, D) unit vectors; with ``position_ids``, graph-guided input (mask (B, L, L))."""
        if position_ids is not None:
            hidden = graphcodebert.encode(self.backbone, input_ids, position_ids, attention_mask)
            real = position_ids.ne(1).unsqueeze(-1).to(hidden.dtype)               # code and nodes, no padding
            return F.normalize((hidden * real).sum(1) / real.sum(1).clamp(min=1.0), dim=-1)
        if self.family == "t5-embedding":
            return self.backbone.embed(input_ids, attention_mask)
        if self.family == "t5":
            vec = t5.mean_encoder_vector(self.backbone, input_ids, attention_mask)
        else:
            vec = roberta.mean_vector(self.backbone, input_ids, attention_mask)
        return F.normalize(vec, dim=-1)


def wrap(backbone: nn.Module, family: str, task: str, tokenizer, dropout: float = 0.1) -> nn.Module:
    """The model that ``task`` trains: the backbone itself (sequence-to-sequence and LM), or a head around it."""
    if task in ("summarization", "language-modeling", "causal-lm"):
        return backbone
    if task == "clone-detection":
        return PairClassifier(backbone, family, tokenizer.eos_token_id, dropout)
    if task in ("clone-retrieval", "code-search"):
        return Retriever(backbone, family)
    raise ValueError(task)


def backbone_of(model: nn.Module) -> nn.Module:
    """The backbone inside a task model (the model itself when it has no separate head)."""
    return model.backbone if isinstance(model, PairClassifier | Retriever) else model


def save_head(model: nn.Module, path: Path) -> bool:
    """Write the head's weights (if the model has a head outside the backbone) as safetensors."""
    if not isinstance(model, PairClassifier):
        return False
    from safetensors.torch import save_file

    save_file({k: v.detach().cpu().contiguous() for k, v in model.head.state_dict().items()}, str(path))
    return True


def load_head(model: nn.Module, path: Path) -> None:
    from safetensors.torch import load_file

    model.head.load_state_dict(load_file(str(path)))
