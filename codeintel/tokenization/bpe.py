"""Recipe for the byte-level BPE tokenizer shipped in ``tokenizers/code-bpe-8k``.

Trained on the Python standard library (PSF licence) of the running interpreter, with RoBERTa's
special tokens in RoBERTa's order (``<s>``=0, ``<pad>``=1, ``</s>``=2, ``<unk>``=3, ``<mask>``=4) so
that one tokenizer serves both the RoBERTa-family and the T5-family tiny presets, as CodeT5's own
RoBERTa-style tokenizer does. Retrain with::

    python -m codeintel.tokenization.bpe --out tokenizers/code-bpe-8k --vocab-size 8192
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
DEFAULT_NAME = "code-bpe-8k"


def _stdlib_texts() -> Iterator[str]:
    from codeintel.data.stdlib import stdlib_files

    for path in stdlib_files():
        try:
            yield path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue


def train_code_bpe(texts: Iterator[str] | list[str], vocab_size: int = 8192, min_frequency: int = 2):
    """Train a byte-level BPE (``tokenizers.Tokenizer``) with RoBERTa specials and post-processing."""
    from tokenizers import ByteLevelBPETokenizer
    from tokenizers.processors import RobertaProcessing

    tok = ByteLevelBPETokenizer(add_prefix_space=False)
    tok.train_from_iterator(texts, vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=SPECIALS)
    inner = tok._tokenizer
    inner.post_processor = RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True, add_prefix_space=False)
    return inner


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--vocab-size", type=int, default=8192)
    args = parser.parse_args(argv)
    tok = train_code_bpe(_stdlib_texts(), vocab_size=args.vocab_size)
    args.out.mkdir(parents=True, exist_ok=True)
    tok.save(str(args.out / "tokenizer.json"))
    meta = {
        "recipe": "python -m codeintel.tokenization.bpe --out <dir> --vocab-size N",
        "vocab_size": tok.get_vocab_size(),
        "trained_on": f"Python {sys.version.split()[0]} standard library (PSF License), tests excluded",
        "special_tokens": SPECIALS,
    }
    (args.out / "recipe.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {args.out / 'tokenizer.json'} ({tok.get_vocab_size()} tokens)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
