"""Program encoding shared by every encoder task (clone detection, clone retrieval, code search).

A program is a list of token ids, or (with ``graph=true``) GraphCodeBERT's :class:`GraphInput` (code, then
data-flow nodes: C + D positions at most); :func:`collate_programs` pads either kind to the longest program of
the batch and :func:`embed` runs a model over many programs in length-sorted batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from codeintel.tasks.common import no_grad, pad

if TYPE_CHECKING:
    import torch


def normalise(code: str) -> str:
    """CodeT5 / CodeXGLUE whitespace normalisation: runs of whitespace become one space."""
    return " ".join(code.split())


@dataclass
class GraphSettings:
    """GraphCodeBERT's data-flow input: the language the programs are parsed in and the node budget D."""

    lang: str
    dfg_length: int = 64


def graph_inputs(codes: list[str], tok, source_len: int, graph: GraphSettings) -> list:
    """GraphCodeBERT's input (code tokens, then one node per variable) for each program."""
    from codeintel.backbones.graphcodebert import build_input

    return [build_input(c, graph.lang, tok, source_len, graph.dfg_length) for c in codes]


def program_length(program) -> int:
    """Tokens of a program as a batch pads it: a list of ids, or a graph input's code and nodes."""
    return len(program) if isinstance(program, list) else program.n_real


def collate_programs(programs: list, pad_id: int) -> dict[str, torch.Tensor]:
    """Padded token ids, or (for graph inputs) ids, positions and (N, L, L) attention cut to the longest."""
    if programs and not isinstance(programs[0], list):
        from codeintel.backbones.graphcodebert import collate

        return collate(programs)
    input_ids, mask = pad(programs, pad_id)
    return {"input_ids": input_ids, "attention_mask": mask}


@no_grad
def embed(fn, ids: list, pad_id: int, batch_size: int, device: torch.device) -> torch.Tensor:
    """Run ``fn(input_ids, attention_mask)`` over programs in length-sorted batches; CPU rows in input order.

    The rows are copied into one result tensor as each batch ends, so that no row can be a view that keeps a
    batch's whole output alive (``fn`` may return a slice of its last hidden states)."""
    import torch

    order = np.argsort([-program_length(x) for x in ids], kind="stable")
    out: torch.Tensor | None = None
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size].tolist()
        batch = {k: v.to(device) for k, v in collate_programs([ids[i] for i in idx], pad_id).items()}
        vecs = fn(**batch)
        if out is None:
            out = torch.empty((len(ids), *vecs.shape[1:]), dtype=vecs.dtype)
        out[torch.as_tensor(idx)] = vecs.cpu()
    if out is None:
        raise ValueError("embed: no programs to embed")
    return out
