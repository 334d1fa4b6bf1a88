"""GraphCodeBERT's structure-aware input (its clone-detection and code-search ``run.py``): code tokens followed by
data-flow nodes, graph-guided attention, and node embeddings averaged from their tokens. Works with any
RoBERTa-family backbone of the registry.

Layout of one input of length C + D (C = code_length, D = data_flow_length)::

    <s> code sub-tokens </s> | DFG nodes (id <unk>, position 0) | <pad> (position 1)
    positions 2, 3, 4, ...

Attention (True = may attend): code <-> code; ``<s>``/``</s>`` see everything that is not padding; a node
and its own code tokens see each other; a node sees the nodes its value comes from (directed, no self-loop).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from codeintel.structure.dfg import extract


@dataclass
class GraphInput:
    """One program, compact: the dense mask is built per batch by :func:`attention_mask`."""

    input_ids: list[int]                       # C + D
    position_ids: list[int]                    # C + D
    node_spans: list[tuple[int, int]]          # per node: its code sub-token span [a, b) in the input
    node_sources: list[list[int]]              # per node: indices of the nodes it comes from
    special: list[int]                         # positions of <s> and </s>

    @cached_property
    def n_code(self) -> int:                   # code positions (position id > 1), <s> and </s> included
        return sum(p > 1 for p in self.position_ids)

    @cached_property
    def n_real(self) -> int:                   # non-padding positions: code then nodes, a prefix of the input
        return sum(p != 1 for p in self.position_ids)


def subtokenize(tokens: list[str], tokenizer) -> tuple[list[str], list[tuple[int, int]]]:
    """RoBERTa sub-tokens of code tokens as GraphCodeBERT does: later tokens are tokenized as ``'@ ' + x`` and
    the ``@`` piece dropped, so the BPE sees them with a leading space. Returns the pieces and each token's span."""
    pieces, spans = [], []
    for i, tok in enumerate(tokens):
        sub = tokenizer.tokenize(tok) if i == 0 else tokenizer.tokenize("@ " + tok)[1:]
        spans.append((len(pieces), len(pieces) + len(sub)))
        pieces += sub
    return pieces, spans


def build_input(code: str, lang: str, tokenizer, code_length: int, data_flow_length: int,
                use_graph: bool = True, budget_offset: int = 3) -> GraphInput:
    """The graph-guided input of one program (``budget_offset`` 3 for clone detection, 2 for code search)."""
    flow = extract(code, lang) if use_graph else None
    tokens = flow.tokens if flow else []
    edges = flow.edges if flow else []
    if not flow:
        tokens = tokenizer.tokenize(code)  # no graph: plain sub-tokens
    pieces, spans = subtokenize(tokens, tokenizer) if flow else (tokens, [])
    total = code_length + data_flow_length
    keep = min(total - budget_offset - min(len(edges), data_flow_length), 512 - 3)
    pieces = [tokenizer.cls_token, *pieces[:keep], tokenizer.sep_token]
    ids = tokenizer.convert_tokens_to_ids(pieces)
    pad = tokenizer.pad_token_id
    positions = [i + pad + 1 for i in range(len(ids))]
    edges = edges[: total - len(ids)]
    ids += [tokenizer.unk_token_id] * len(edges)
    positions += [0] * len(edges)
    ids += [pad] * (total - len(ids))
    positions += [pad] * (total - len(positions))
    node_of = {e[1]: k for k, e in enumerate(edges)}
    sources = [[node_of[p] for p in e[4] if p in node_of] for e in edges]
    node_spans = [(spans[e[1]][0] + 1, spans[e[1]][1] + 1) for e in edges]  # +1 for <s>
    special = [i for i, t in enumerate(ids) if t in (tokenizer.cls_token_id, tokenizer.sep_token_id)]
    return GraphInput(ids, positions, node_spans, sources, special)


def attention_mask(g: GraphInput, n: int | None = None) -> np.ndarray:
    """The (n, n) boolean graph-guided attention mask of one input's first ``n`` positions (default all C+D;
    positions from ``n_real`` on are padding, which nothing attends to)."""
    n = len(g.input_ids) if n is None else n
    node0, real = g.n_code, g.n_real
    mask = np.zeros((n, n), dtype=bool)
    mask[:node0, :node0] = True
    for i in g.special:
        mask[i, :real] = True
    for k, (a, b) in enumerate(g.node_spans):
        if node0 + k >= n:
            break
        if a < node0 and b < node0:
            mask[node0 + k, a:b] = True
            mask[a:b, node0 + k] = True
    for k, srcs in enumerate(g.node_sources):
        for j in srcs:
            if node0 + k < n and node0 + j < n:
                mask[node0 + k, node0 + j] = True
    return mask


def collate(inputs: list[GraphInput]) -> dict[str, torch.Tensor]:
    """(B, L) ids and positions, (B, L, L) attention, L the longest real length of the batch (code and nodes):
    the padding after it, which no position attends to, is cut (the states of the real positions do not
    depend on it)."""
    n = max(g.n_real for g in inputs)
    return {"input_ids": torch.tensor([g.input_ids[:n] for g in inputs]),
            "position_ids": torch.tensor([g.position_ids[:n] for g in inputs]),
            "attention_mask": torch.from_numpy(np.stack([attention_mask(g, n) for g in inputs]))}


def encode(roberta, input_ids: torch.Tensor, position_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Last hidden states (B, L, H) of a RoBERTa model on graph-guided inputs: each node's input embedding is
    the average of the word embeddings of the code tokens it may attend to (its own span)."""
    nodes = position_ids.eq(0)                                                   # (B, L)
    code = position_ids.ge(2)                                                    # (B, L)
    words = roberta.embeddings.word_embeddings(input_ids)                        # (B, L, H)
    weights = (nodes[:, :, None] & code[:, None, :] & attention_mask).to(words.dtype)   # (B, L, L)
    weights = weights / (weights.sum(-1, keepdim=True) + 1e-10)
    averaged = torch.bmm(weights, words)                                         # (B, L, H)
    embeds = torch.where(nodes[:, :, None], averaged, words)
    out = roberta(inputs_embeds=embeds, attention_mask=attention_mask.long(), position_ids=position_ids)
    return out.last_hidden_state
