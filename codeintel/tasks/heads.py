"""Task heads around a backbone: pair classification (clone detection) and embeddings (clone retrieval).

Sequence-to-sequence tasks use the transformers model as is.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from codeintel.backbones import graphcodebert
from codeintel.backbones.family import family as family_of


class PairClassifier(nn.Module):
    """Clone detection, BigCloneBench style: both programs through one encoder, head on [v1; v2].

    T5 family: CodeT5's last-``</s>`` decoder vector and its dropout-free head. RoBERTa family:
    GraphCodeBERT's ``<s>`` vector and ``RobertaClassificationHead``.
    """

    def __init__(self, backbone: nn.Module, family: str, eos_id: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.backbone, self.family, self.eos_id = backbone, family, eos_id
        self.kind = family_of(family)
        self.head = self.kind.pair_head(self.kind.hidden_size(backbone.config), dropout)

    def vectors(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                position_ids: torch.Tensor | None = None) -> torch.Tensor:
        """(N, L) programs -> (N, H); with ``position_ids`` the input is GraphCodeBERT's graph-guided one."""
        if position_ids is not None:
            return graphcodebert.encode(self.backbone, input_ids, position_ids, attention_mask)[:, 0]
        return self.kind.pair_vector(self.backbone, input_ids, attention_mask, self.eos_id)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                position_ids: torch.Tensor | None = None) -> torch.Tensor:
        """input_ids (B, 2, L), attention_mask (B, 2, L) or graph (B, 2, L, L) -> logits (B, 2)."""
        b, two = input_ids.shape[:2]
        def flat(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(b * two, *t.shape[2:])

        pos = flat(position_ids) if position_ids is not None else None
        vec = self.vectors(flat(input_ids), flat(attention_mask), pos)                # (2B, H)
        return self.head(vec.reshape(b, -1))                                          # (B, 2)


class FunctionClassifier(PairClassifier):
    """Defect detection: one function through the encoder, a two-class head on its vector.

    T5 family: CodeT5's ``DefectModel`` (the last-``</s>`` decoder vector, one linear layer). RoBERTa family:
    ``RobertaClassificationHead`` on the ``<s>`` vector (dropout-dense-tanh-dropout-out) with two classes and
    softmax cross-entropy (CodeXGLUE's Devign baseline has one logit and a sigmoid: the same decision, a different
    parameterisation)."""

    def __init__(self, backbone: nn.Module, family: str, eos_id: int, dropout: float = 0.1) -> None:
        nn.Module.__init__(self)
        self.backbone, self.family, self.eos_id = backbone, family, eos_id
        self.kind = family_of(family)
        self.head = self.kind.pair_head(self.kind.hidden_size(backbone.config), dropout, inputs=1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                position_ids: torch.Tensor | None = None) -> torch.Tensor:
        """(B, L) functions -> logits (B, 2)."""
        return self.head(self.vectors(input_ids, attention_mask, position_ids))


class Retriever(nn.Module):
    """Clone retrieval, POJ-104 style: one L2-normalised vector per program, ranked by cosine similarity.

    RoBERTa and T5: the mean of the encoder's last layer over real tokens; CodeT5+ embedding: its own
    first-token projection. (CodeXGLUE's POJ-104 baseline takes RoBERTa's pooler output; from a random
    or lightly trained pooler its tanh saturates and the contrastive loss collapses every program onto
    one point, so the mean is the default here.)
    """

    def __init__(self, backbone: nn.Module, family: str) -> None:
        super().__init__()
        self.backbone, self.family, self.kind = backbone, family, family_of(family)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                position_ids: torch.Tensor | None = None) -> torch.Tensor:
        """(B, L) -> (B, D) unit vectors; with ``position_ids``, graph-guided input (mask (B, L, L))."""
        if position_ids is not None:
            hidden = graphcodebert.encode(self.backbone, input_ids, position_ids, attention_mask)
            real = position_ids.ne(1).unsqueeze(-1).to(hidden.dtype)               # code and nodes, no padding
            return F.normalize((hidden * real).sum(1) / real.sum(1).clamp(min=1.0), dim=-1)
        return self.kind.sequence_vector(self.backbone, input_ids, attention_mask)


def wrap(backbone: nn.Module, family: str, head: str, tokenizer, dropout: float = 0.1) -> nn.Module:
    """The model a task type trains, by its ``head`` (:class:`~codeintel.tasks.protocol.TaskType`): the backbone
    itself (``"backbone"``: sequence-to-sequence and LM), or a head around it (``"pair"``, ``"single"``,
    ``"embedding"``)."""
    if head == "pair":
        return PairClassifier(backbone, family, tokenizer.eos_token_id, dropout)
    if head == "single":
        return FunctionClassifier(backbone, family, tokenizer.eos_token_id, dropout)
    if head == "embedding":
        return Retriever(backbone, family)
    return backbone


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
