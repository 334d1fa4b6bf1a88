"""Typed run configuration: dataclasses, YAML files, dotted ``key=value`` overrides, validated up front.

Precedence (later wins): dataclass defaults < the task card's ``defaults`` < ``--config FILE.yaml`` <
``key=value`` arguments. The same schema serves the CLI, tests and notebooks.
"""

from __future__ import annotations

import dataclasses
import functools
import textwrap
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from codeintel.errors import ConfigError, UnknownNameError


@dataclass
class DataConfig:
    paths: list[str] = field(default_factory=list)
    """Data files or directories (jsonl, json, csv, tsv, parquet: what ``datasets.load_dataset`` reads; a directory
    holds train/valid|dev|validation/test files); empty = the task card's default dataset."""
    code_field: str = ""
    """Column mapping: the column holding the code (HF ``run_summarization.py``'s ``--text_column``); empty = the
    task's own names (``codeintel tasks`` lists them)."""
    nl_field: str = ""
    """Column mapping: the natural-language column — the summary of summarization (``--summary_column``), the
    query of code search, the description of text-to-code."""
    label_field: str = ""
    """Column mapping: the label column (clone retrieval's problem, defect detection's 0/1)."""
    id_field: str = ""
    """Column mapping: the example id column (a clone-detection programs file's index)."""
    skip_bad_lines: bool = False
    """Skip (and count) malformed jsonl lines instead of stopping at the first one."""
    max_train_examples: int = 0
    """Use at most this many training examples (0 = all)."""
    max_eval_examples: int = 200
    """Dev examples scored at each periodic evaluation (0 = all); the test split is always scored whole."""
    check_leakage: bool = True
    """Warn when test examples are exact duplicates of training ones (comments and whitespace aside)."""


@dataclass
class TrainConfig:
    epochs: float = 3.0
    """Passes over the training data."""
    max_steps: int = 0
    """Stop after this many optimizer steps (0 = run all epochs)."""
    lr: float = 5e-4
    """Peak learning rate (AdamW, linear warm-up then linear decay)."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    warmup_ratio: float = 0.1
    """Fraction of the steps spent warming up."""
    batch_tokens: int = 4096
    """Token budget of a batch (padded tokens counted); batches are grouped by length."""
    max_batch_size: int = 64
    """Upper bound on examples per batch."""
    batch_size: int = 0
    """Examples per batch instead of the token budget (HF ``per_device_train_batch_size``; 0 = ``batch_tokens``
    decides): every batch this many examples (the last of each 50-batch window fewer), grouped as ``grouping``
    says (``length`` ~ HF ``group_by_length``, ``random`` ~ its default)."""
    grouping: str = "length"
    """``length``: length-grouped batches with little padding; ``random``: shuffled fixed-size batches."""
    grad_clip: float = 1.0
    """Clip the gradient norm to this value before each step."""
    seed: int = 42
    """Seeds Python, NumPy and torch (weights of fresh heads, batch order, dropout)."""
    evals_per_epoch: int = 1
    """Dev evaluations per epoch; the best checkpoint by the dev metric is kept."""
    eval_steps: int = 0
    """Dev evaluation every N optimizer steps (HF ``eval_steps`` with ``eval_strategy="steps"``; 0 =
    ``evals_per_epoch`` decides). The last step is always evaluated."""
    logging_steps: int = 0
    """A training log line (mean loss since the last line, learning rate, tokens/s, padding) every N optimizer
    steps, on the console and to the trackers (HF ``logging_steps``; 0 = trackers every step, no extra lines)."""
    metric_for_best_model: str = ""
    """The dev metric that selects ``best`` and drives early stopping (HF ``metric_for_best_model``; its
    ``greater_is_better`` follows from the metric: perplexities lower, everything else higher); empty = the task
    card's first metric."""
    patience: int = 0
    """Early stopping: stop after this many dev evaluations in a row without a better selection metric (0 = never;
    a task card may set it)."""
    threads: int = 0
    """torch threads (0 = torch's default)."""
    grad_accum: int = 1
    """Micro-batches per optimizer step on each process (a global step is processes x grad_accum batches)."""
    precision: str = "fp32"
    """``fp32``, ``bf16`` or ``fp16`` (autocast through accelerate; fp16 with a gradient scaler)."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass (less memory, ~30% more compute)."""
    fast_kernels: bool = False
    """Two speed-ups that change no expected result, only the bits: sequence-to-sequence LM head and
    cross-entropy on the real target positions only, and dropout masks from 16-bit parts of torch's integer
    draws instead of ``bernoulli_`` (p rounded to 2^-16 where that moves it by <= 0.1 %, the kept values scaled
    by the inverse of the keep probability used: the same expectation, another random stream). Off by
    default so that earlier runs reproduce bit for bit."""
    save_every: int = 0
    """Write the full training state every N optimizer steps, for ``codeintel train --resume`` (0 = never)."""
    keep_last: int = 2
    """Training states kept (the newest); ``best/`` is kept apart from them."""


@dataclass
class EvalConfig:
    beam_size: int = 1
    """Beam width for generation (CodeXGLUE uses 10)."""
    no_repeat_ngram_size: int = 0
    """Generation: forbid repeating any n-gram of this size (0 = off, as CodeXGLUE)."""
    batch_size: int = 32
    """Examples per batch when predicting (no gradient)."""
    threshold: float = 0.5
    """Clone-detection decision threshold on P(clone)."""
    ppl_compat: bool = False
    """Language modeling: also report the Tokompiler authors' normalized perplexity (lexer-rule multiplier)."""
    n_samples: int = 1
    """Execution tasks (humaneval): samples per problem (1 = greedy decoding; more = sampling)."""
    temperature: float = 0.2
    """Execution tasks: sampling temperature when n_samples > 1."""
    top_p: float = 0.95
    """Execution tasks: nucleus sampling mass when n_samples > 1."""
    pass_k: str = "1,10,100"
    """Execution tasks: the k of pass@k reported (those <= n_samples)."""
    workers: int = 2
    """Execution tasks: programs run at the same time (results do not depend on it)."""
    timeout: float = 10.0
    """Execution tasks: wall-clock seconds per program (also its CPU-second limit)."""
    memory_mb: int = 2048
    """Execution tasks: address-space limit of a program, MB."""
    check_canonical: bool = False
    """Execution tasks: run the problems' reference solutions instead of the model's (checks the harness)."""
    unsafe_execution: bool = False
    """Execution tasks: where namespaces are unavailable, run model-written code without the sandbox's file-system
    and network isolation (it can read and write your files). Off: such machines refuse to run it."""


@dataclass
class RunConfig:
    model: str = "tiny-codet5"
    """Registry name (``codeintel models``), hub id, or checkpoint directory."""
    task: str = "summarization"
    """Task card name or path to a card YAML."""
    output_dir: str = ""
    """Run directory (default ``runs/<task>-<model>``)."""
    tokenizer: str = ""
    """Tokenizer override for presets built from a config: ``tokompiler`` or a tokenizer directory."""
    device: str = "auto"
    """``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda`` or ``cuda:N``."""
    pretrained: bool = True
    """Load published weights for hub backbones (False: random init from the config)."""
    allow_pickle: bool = False
    """Also load pickle weights (``pytorch_model.bin``); by default only safetensors load (a pickle can run code)."""
    source_len: int = 0
    """Max source tokens (0 = the card's, else the backbone's default); with ``graph`` the code length C."""
    graph: bool = False
    """Clone tasks, RoBERTa family: GraphCodeBERT's data-flow graph input and graph-guided attention."""
    dfg_length: int = 64
    """With ``graph``: data-flow nodes per program (D)."""
    lang: str = ""
    """With ``graph``: the language programs are parsed in (default: the task card's)."""
    target_len: int = 0
    """Max target tokens for generation tasks (0 = the card's)."""
    adapter: str = ""
    """Train with an adapter: a preset (``codeintel adapters presets``: ``lora-r8``, ``pfeiffer``, ...) or an
    adapter directory (a NER adapter from ``codeintel adapters train-ner``, AdapterHub or PEFT); empty = full
    fine-tuning."""
    adapter_mode: str = ""
    """With a directory: ``frozen`` (default; the adapter fixed, the task head trains), ``stack`` (a fresh
    ``stack_adapter`` on top trains) or ``train`` (the adapter trains further). A preset always trains."""
    stack_adapter: str = "pfeiffer"
    """The preset of the fresh task adapter that ``adapter_mode=stack`` adds."""
    report_to: list[str] = field(default_factory=list)
    """Experiment trackers: ``none`` (default), ``tensorboard``, ``mlflow``, ``wandb``; a list is fine. Logs go
    to ``RUN/logs``."""
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


PRECISIONS = ("fp32", "bf16", "fp16")
TRACKERS = ("tensorboard", "mlflow", "wandb")  # accelerate's trackers; each is also its pip package's name

DEFAULT_OPS = ("rename_variables:k=2,rename_function,insert_dead_code,swap_operands,exchange_loop,swap_if_else,"
               "permute_statements,delete_tokens,swap_tokens,duplicate_tokens")


@dataclass
class RecipeTrainKeys:
    """The ``train.*`` keys every recipe that trains shares with ``codeintel train`` (the same names, meaning and
    checks); each recipe's ``train`` section adds its own and may change a default."""

    lr: float = 1e-3
    """Peak learning rate (AdamW, or Adam for the probe)."""
    batch_size: int = 16
    """Examples per optimizer step."""
    seed: int = 42
    """Seeds Python, NumPy and torch (fresh weights, example order, dropout, sampling)."""
    threads: int = 0
    """torch threads (0 = torch's default)."""
    save_every: int = 0
    """Write a resumable state every N steps (0 = never); ``--resume OUT`` continues the run from the newest."""
    keep_last: int = 2
    """How many of the newest resumable states to keep."""


@dataclass
class PretrainTrainConfig(RecipeTrainKeys):
    max_steps: int = 300
    """Optimizer steps."""
    lr: float = 5e-4
    """Peak learning rate (AdamW, linear warm-up then linear decay)."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    warmup_ratio: float = 0.1
    """Fraction of the steps spent warming up."""
    grad_clip: float = 1.0
    """Clip the gradient norm to this value before each step."""
    fast_kernels: bool = False
    """The cheaper dropout noise of ``codeintel train``'s ``train.fast_kernels`` (another random stream)."""
    precision: str = "fp32"
    """``fp32``, ``bf16`` or ``fp16`` (autocast through accelerate; fp16 needs CUDA)."""


@dataclass
class PathsConfig:
    paths: list[str] = field(default_factory=list)
    """jsonl files (or directories) with a code field (code/func/original_string); empty = the embedded
    standard-library corpus."""


@dataclass
class MlmConfig:
    probability: float = 0.15
    """Share of the (non-special) tokens selected for masking (80 % mask, 10 % random, 10 % kept)."""
    weight: float = 1.0
    """Weight of the MLM loss in the total loss."""


@dataclass
class ContrastiveConfig:
    queue_size: int = 4096
    """Negative keys kept (MoCo queue); ContraBERT's 65,536 scaled down for CPU-scale runs (a queue larger
    than the keys a run produces would hold stale, never-refreshed negatives)."""
    momentum: float = 0.999
    """Momentum of the key encoder's update."""
    temperature: float = 0.07
    """InfoNCE temperature τ."""
    proj_dim: int = 128
    """Projection head output (0 = InfoNCE on the pooled vector itself)."""
    pooling: str = "mean"
    """``mean`` (what the hub's retrieval and search heads read) or ``cls`` (the ``<s>`` vector)."""
    weight: float = 1.0
    """Weight of the InfoNCE loss in the total loss."""
    ops: str = DEFAULT_OPS
    """Operators for the augmented views; each applies with probability ``op_probability``."""
    op_probability: float = 0.5
    """Probability that each operator is tried on a view (at least one is)."""
    variants: int = 2
    """Augmented views built per example (one is drawn per step)."""


@dataclass
class PretrainConfig:
    """``codeintel pretrain``'s settings; the optimisation keys are ``train.*`` as in ``codeintel train``."""

    model: str = "tiny-codebert"
    """RoBERTa-family registry name, hub id or checkpoint directory to continue from."""
    objective: str = "contrastive"
    """``contrastive`` (MLM + InfoNCE) or ``mlm`` (MLM only)."""
    lang: str = ""
    """Language of the code (default: each row's ``lang``/``language``; the stdlib corpus is python)."""
    output_dir: str = ""
    """Checkpoint directory (default ``runs/pretrain-<objective>-<model>``); new or empty."""
    device: str = "auto"
    """``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda`` or ``cuda:N``."""
    report_to: list[str] = field(default_factory=list)
    """Experiment trackers (``tensorboard``, ``mlflow``, ``wandb``); logs go to OUT/logs."""
    source_len: int = 256
    """Max tokens per example."""
    data: PathsConfig = field(default_factory=PathsConfig)
    """``data.paths``: jsonl with a code field and optionally a comment (docstring/nl); empty = the embedded
    standard-library corpus (train split)."""
    train: PretrainTrainConfig = field(default_factory=PretrainTrainConfig)
    mlm: MlmConfig = field(default_factory=MlmConfig)
    contrastive: ContrastiveConfig = field(default_factory=ContrastiveConfig)

    renamed: ClassVar[dict[str, str]] = {
        "steps": "train.max_steps", "batch_size": "train.batch_size", "lr": "train.lr",
        "weight_decay": "train.weight_decay", "warmup_ratio": "train.warmup_ratio", "seed": "train.seed",
        "threads": "train.threads", "save_every": "train.save_every", "keep_last": "train.keep_last",
        "max_len": "source_len", "mlm_probability": "mlm.probability", "mlm_weight": "mlm.weight",
        "contrastive_weight": "contrastive.weight",
        **{k: f"contrastive.{k}" for k in ("queue_size", "momentum", "temperature", "proj_dim", "pooling", "ops",
                                           "op_probability", "variants")},
    }
    """Keys of earlier versions: each is refused with one error naming its new key (a state saved under them
    is translated on ``--resume``)."""


@dataclass
class NerTrainConfig(RecipeTrainKeys):
    max_steps: int = 300
    """Optimizer steps."""
    eval_every: int = 50
    """Held-out evaluation every N steps; the best adapter by macro-F1 is kept."""
    patience: int = 3
    """Stop after this many evaluations without a better held-out macro-F1 (0 = never)."""
    precision: str = "fp32"
    """``fp32``, ``bf16`` or ``fp16`` (autocast through accelerate; fp16 needs CUDA)."""


@dataclass
class NerDataConfig(PathsConfig):
    max_train_examples: int = 0
    """Use at most this many training programs (0 = all)."""
    max_eval_examples: int = 200
    """Held-out programs scored (0 = all)."""


@dataclass
class NerConfig:
    model: str = "tiny-codebert"
    """Backbone (registry name, hub id or directory), RoBERTa or T5 family."""
    lang: str = ""
    """Language of the code (default: each row's ``lang``/``language``)."""
    output_dir: str = ""
    """Output directory (default ``runs/ner-<model>``); new or empty."""
    source_len: int = 256
    """Max sub-tokens per program (longer ones are cut)."""
    reduction_factor: int = 16
    """Bottleneck size = hidden / reduction_factor."""
    device: str = "auto"
    """``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda`` or ``cuda:N``."""
    report_to: list[str] = field(default_factory=list)
    """Experiment trackers (``tensorboard``, ``mlflow``, ``wandb``); logs go to OUT/logs."""
    data: NerDataConfig = field(default_factory=NerDataConfig)
    """``data.paths``: jsonl with a code field; empty = the embedded standard-library corpus (Python), split
    90/10 by a hash of the code otherwise."""
    train: NerTrainConfig = field(default_factory=NerTrainConfig)

    renamed: ClassVar[dict[str, str]] = {
        "steps": "train.max_steps", "batch_size": "train.batch_size", "lr": "train.lr", "max_len": "source_len",
        "eval_every": "train.eval_every", "patience": "train.patience", "max_examples": "data.max_train_examples",
        "eval_examples": "data.max_eval_examples", "seed": "train.seed", "threads": "train.threads",
        "save_every": "train.save_every", "keep_last": "train.keep_last", "precision": "train.precision"}


@dataclass
class ProbeTrainConfig(RecipeTrainKeys):
    epochs: int = 20
    """Passes over the training functions per probe at most."""
    precision: str = "fp32"
    """The backbone's forward that gives the hidden states: ``fp32``, ``bf16`` or ``fp16`` (autocast; fp16 needs
    CUDA). The probes themselves train in fp32."""
    batch_size: int = 32
    grouping: str = "length"
    """``length``: batches of functions of similar length (about 4x faster: the distance loss is quadratic in
    length); ``random``: shuffled batches, the authors' set-up. The loss is pooled over a batch's pairs and
    terminals as the authors pool it, so grouping changes the weights of functions in the objective (seed 42,
    tiny-codebert layer 0: F1 0.233 grouped vs 0.198 shuffled)."""
    patience: int = 5
    """Stop after this many epochs without a lower validation loss (0 = never)."""
    save_every: int = 0
    """Write a resumable state after every N trained probes (0 = never); ``--resume OUT`` continues the run."""


@dataclass
class ProbeDataConfig(PathsConfig):
    max_train_examples: int = 2000
    """Training functions at most (the paper: 20,000 / 2,000 / 4,000 train / valid / test; 0 = all)."""
    max_eval_examples: int = 400
    """Validation functions at most (0 = all)."""
    max_test_examples: int = 400
    """Test functions at most (0 = all)."""
    sample_seed: int = 42
    """Seed of the functions drawn (each split shuffled, the first that parse and fit kept); apart from
    ``train.seed``, so that ``--seeds`` varies the probes' training on the same functions."""


@dataclass
class ProbeConfig:
    model: str = "tiny-codebert"
    """Backbone to probe (registry name, hub id, or a directory written by train/pretrain), RoBERTa or T5 family."""
    lang: str = "python"
    """Language of the code (a tree-sitter grammar of the hub)."""
    output_dir: str = ""
    """Output directory (default ``runs/probe-<model>-<lang>``); new or empty."""
    layers: str = "all"
    """``all``, one layer, ``a-b`` or ``a,b,c`` (0 = the embedding layer)."""
    dims: str = "auto"
    """Probe ranks (rows of B), comma-separated, each below the hidden size (at the hidden size B would be a
    rotation, which preserves every distance); ``auto`` = the paper's 128, or half the hidden size of a model
    narrower than 256."""
    source_len: int = 512
    """Functions longer than this many sub-tokens (specials included) are left out, as the paper."""
    orthogonal_weight: float = 5.0
    """Weight of ||B B^T - I||_F^2 in the loss."""
    random_baseline: bool = True
    """Also probe the same architecture with random layers (embeddings kept)."""
    device: str = "auto"
    """Where the backbone computes the hidden states: ``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda``
    or ``cuda:N`` (the probes train on the CPU)."""
    report_to: list[str] = field(default_factory=list)
    """Experiment trackers (``tensorboard``, ``mlflow``, ``wandb``): each probe's validation loss per epoch and its
    test F1 (``<kind>/dim<d>/...``, step = layer); logs go to OUT/logs."""
    data: ProbeDataConfig = field(default_factory=ProbeDataConfig)
    """``data.paths``: jsonl with a code field (a file split 80/10/10, or a directory of train/valid/test); empty =
    the embedded standard-library corpus."""
    train: ProbeTrainConfig = field(default_factory=ProbeTrainConfig)

    renamed: ClassVar[dict[str, str]] = {
        "max_train": "data.max_train_examples", "max_valid": "data.max_eval_examples",
        "max_test": "data.max_test_examples", "max_length": "source_len", "epochs": "train.epochs",
        "patience": "train.patience", "batch_size": "train.batch_size", "lr": "train.lr", "seed": "train.seed",
        "threads": "train.threads", "save_every": "train.save_every", "keep_last": "train.keep_last"}


@dataclass
class ReplayConfig:
    memory: int = 200
    """Items (training blocks) in the reservoir buffer over everything seen."""
    batch_new: int = 2
    """New items per batch once the buffer holds something."""
    batch_mem: int = 2
    """Buffer items per batch."""


@dataclass
class EwcConfig:
    lam: float = 0.3
    """λ of ``λ Σ_e Σ F_e (θ − θ*_e)²`` (the authors' value; no ½)."""


@dataclass
class SiConfig:
    lam: float = 10.0
    """λ of ``(λ / 2) Σ Ω (θ − θ*)²`` (the authors' value; Avalanche's ½)."""
    eps: float = 0.1
    """ε (ξ) in C += ω / (Δ² + ε) (the authors' value)."""
    clip_to: float = 0.001
    """Ω = min(C, clip_to): Avalanche's cap on the importance."""


@dataclass
class RwalkConfig:
    lam: float = 0.1
    """λ of ``λ Σ Ω (θ − θ*)²`` (no ½)."""
    alpha: float = 0.9
    """Weight of the new squared gradient in the online Fisher: F = α g² + (1 − α) F (Avalanche's ``ewc_alpha``)."""
    delta_t: int = 2
    """Steps between score updates."""


@dataclass
class AgemConfig:
    patterns: int = 250
    """Random items kept per experience."""
    sample_size: int = 6
    """Reference-batch size, drawn evenly across the experience buffers."""


@dataclass
class LwfConfig:
    alpha: list[str] = field(default_factory=lambda: ["0", "0.5", "1.333", "2.25", "3.2"])
    """Distillation weight per experience (the last repeats)."""
    temperature: float = 2.0


@dataclass
class ContinualTrainConfig(RecipeTrainKeys):
    epochs: int = 10
    """Epochs per experience at most (early stopping on the experience's validation loss)."""
    precision: str = "fp32"
    """The training forwards: ``fp32`` or ``bf16`` (autocast; the scores are computed in fp32). Not ``fp16``: its
    gradient scaler would hide the true gradients from the strategies' hooks (A-GEM, SI, RWalk)."""
    lr: float = 5e-5
    """AdamW learning rate (the authors' 5e-5, for pretrained 124M models)."""
    batch_size: int = 6
    patience: int = 2
    """Stop an experience after this many epochs without a lower validation loss (0 = never); the best epoch's
    weights return when it stops early (after the last epoch they stay, as the authors' Avalanche plugin)."""
    weight_decay: float = 0.01
    """AdamW weight decay (the authors' AdamW default, 0.01)."""
    grad_clip: float = 0.0
    """Clip the gradient norm to this value before each step (0 = never, as the authors' Avalanche loop)."""
    fast_kernels: bool = False
    """The cheaper dropout noise of ``codeintel train``'s ``train.fast_kernels`` around the training forwards
    (another random stream; the tiny-codegpt preset has no dropout, so it changes nothing there)."""
    save_every: int = 0
    """Write a resumable state after every N strategy runs through the stream (0 = never); ``--resume OUT``
    continues the run after the newest."""


@dataclass
class ContinualDataConfig:
    paths: list[str] = field(default_factory=list)
    """The data of the stream: one jsonl file or directory (default: the stream file's own)."""
    max_train_examples: int = 0
    """Training samples per experience at most (0 = all)."""
    max_test_examples: int = 200
    """Call sites per test set at most (a seeded sample; 0 = all)."""
    valid_fraction: float = 0.1
    """Share of each experience's training samples held out for early stopping."""


@dataclass
class ContinualEvalConfig:
    batch_size: int = 16
    """Examples per batch when scoring (no gradient)."""
    decoding: str = "sample"
    """``sample`` (the paper: pass@k over ``eval.n_samples`` samples), ``beam`` (exact@k over ``eval.n_samples``
    beams, deterministic) or ``greedy`` (exact@1, deterministic and cheapest)."""
    n_samples: int = 10
    """Samples (or beams) per call site."""
    temperature: float = 0.0
    """Sampling temperature (0 = the task's: 1.0 for api-call, the paper's 0.2 for api-usage)."""
    top_p: float = 0.0
    """Nucleus sampling (0 = the task's: 1.0 for api-call, the paper's 0.95 for api-usage)."""
    max_new_tokens: int = 0
    """Tokens generated (0 = the task's: 6 for a method name, the paper's 30 for a call expression)."""
    metric: str = ""
    """Score in the matrix R and the summary (default pass@1 / exact@1 for api-call, exact_match for api-usage)."""


@dataclass
class ContinualConfig:
    model: str = "tiny-codegpt"
    """Registry name, hub id or directory: GPT-2 (codegpt-small-java/py, tiny-codegpt), RoBERTa (as a decoder) or
    T5 (as a prefix LM)."""
    stream: str = "default"
    """``default`` (the standard-library stream), a shipped stream name (``codeintel continual streams``), or a
    stream YAML written by ``codeintel continual build-stream``."""
    task: str = "api-call"
    """``api-call`` (the method name after ``receiver.``) or ``api-usage`` (the whole call expression)."""
    strategies: list[str] = field(default_factory=lambda: ["naive"])
    """Run each, from the same starting weights, on the same stream and seed."""
    output_dir: str = ""
    """Output directory (default ``runs/continual-<model>-<stream>-<task>``); new or empty."""
    device: str = "auto"
    """``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda`` or ``cuda:N``."""
    repeats: int = 1
    """Seeds ``train.seed`` .. ``train.seed + repeats - 1``; tables report mean ± std over them."""
    objective: str = "lm"
    """``lm``: causal-LM fine-tuning on each experience's code (the paper); ``api``: the loss on the task's targets
    at the experience's call sites only (task-specific fine-tuning, which the authors found had too few samples at
    their scale; on a CPU about 5x cheaper per step, as only the target positions reach the LM head)."""
    source_len: int = 0
    """Tokens per training block (0 = the model's default source length; 256 for tiny presets)."""
    id_epochs: int = 0
    """Before the stream, train this many epochs on the stream's in-distribution training samples (once per seed;
    every strategy starts from the result). A random-initialised preset has seen no code at all: this is the
    hub's small-scale stand-in for the paper's pre-training on ID data."""
    id_lr: float = 0.0
    """Learning rate of that ID stage (0 = train.lr)."""
    id_max_examples: int = 2000
    """ID training samples used by that stage at most (a seeded sample; 0 = all)."""
    min_test_examples: int = 10
    """A domain whose test set has fewer call sites than this is refused before training (its scores would be
    noise)."""
    save_models: bool = True
    """Write each strategy's final model (first seed) as a checkpoint directory."""
    report_to: list[str] = field(default_factory=list)
    """Experiment trackers (``tensorboard``, ``mlflow``, ``wandb``): every strategy's scores after each experience
    and its summary, per seed; logs go to OUT/logs."""
    data: ContinualDataConfig = field(default_factory=ContinualDataConfig)
    train: ContinualTrainConfig = field(default_factory=ContinualTrainConfig)
    eval: ContinualEvalConfig = field(default_factory=ContinualEvalConfig)
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    ewc: EwcConfig = field(default_factory=EwcConfig)
    si: SiConfig = field(default_factory=SiConfig)
    rwalk: RwalkConfig = field(default_factory=RwalkConfig)
    agem: AgemConfig = field(default_factory=AgemConfig)
    lwf: LwfConfig = field(default_factory=LwfConfig)

    renamed: ClassVar[dict[str, str]] = {
        "seed": "train.seed", "lr": "train.lr", "weight_decay": "train.weight_decay",
        "batch_size": "train.batch_size", "block_size": "source_len", "max_epochs": "train.epochs",
        "patience": "train.patience", "valid_fraction": "data.valid_fraction",
        "max_train_samples": "data.max_train_examples", "id_max_samples": "id_max_examples",
        "grad_clip": "train.grad_clip", "fast_kernels": "train.fast_kernels",
        "eval_max_examples": "data.max_test_examples", "eval_batch_size": "eval.batch_size",
        "decoding": "eval.decoding", "num_samples": "eval.n_samples", "temperature": "eval.temperature",
        "top_p": "eval.top_p", "max_new_tokens": "eval.max_new_tokens", "metric": "eval.metric",
        "threads": "train.threads", "save_every": "train.save_every", "keep_last": "train.keep_last"}


def engine_checks(device: str, report_to: list[str]) -> list[tuple[bool, str]]:
    """The (ok, message) checks of the engine's settings that every recipe on it shares: device and trackers
    (precision is a key rule, :data:`KEY_RULES`)."""
    return [
        (all(r in ("none", *TRACKERS) for r in report_to),
         f"report_to must be none, tensorboard, mlflow or wandb (a list is fine), got {','.join(report_to)}"),
        (device == "auto" or device == "cpu" or device.startswith("cuda"),
         f"device must be auto, cpu, cuda or cuda:N, got {device!r}"),
    ]


# One rule per key name, wherever the key sits (every recipe's config, every section): what its value must be.
# Every float key must also be finite. Checks that relate keys to each other or to a model stay with the recipe.
KEY_RULES: dict[str, tuple[typing.Callable[[Any], bool], str]] = {
    # optimisation
    "lr": (lambda v: v > 0, "a positive number"),
    "weight_decay": (lambda v: v >= 0, "a number >= 0"),
    "grad_clip": (lambda v: v >= 0, "a number >= 0 (0 = no clipping)"),
    "warmup_ratio": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "precision": (lambda v: v in PRECISIONS, "fp32, bf16 or fp16"),
    # steps, evaluations and states
    "epochs": (lambda v: v >= 0, ">= 0"),
    "max_steps": (lambda v: v >= 0, ">= 0"),
    "patience": (lambda v: v >= 0, ">= 0 (0 = never stop early)"),
    "eval_every": (lambda v: v >= 1, ">= 1"),
    "evals_per_epoch": (lambda v: v >= 1, ">= 1"),
    "eval_steps": (lambda v: v >= 0, ">= 0 (0 = evals_per_epoch decides)"),
    "logging_steps": (lambda v: v >= 0, ">= 0 (0 = no extra log lines)"),
    "grad_accum": (lambda v: v >= 1, ">= 1"),
    "save_every": (lambda v: v >= 0, ">= 0 (0 = never)"),
    "keep_last": (lambda v: v >= 1, ">= 1"),
    # batches
    "batch_size": (lambda v: v >= 1, ">= 1"),
    "batch_tokens": (lambda v: v >= 1, ">= 1"),
    "max_batch_size": (lambda v: v >= 1, ">= 1"),
    "grouping": (lambda v: v in ("length", "random"), "'length' or 'random'"),
    # lengths
    "source_len": (lambda v: v == 0 or v >= 2, "0 (the default) or at least 2 tokens"),
    "target_len": (lambda v: v == 0 or v >= 2, "0 (the default) or at least 2 tokens"),
    # example caps
    "max_train_examples": (lambda v: v >= 0, ">= 0 (0 = all)"),
    "max_eval_examples": (lambda v: v >= 0, ">= 0 (0 = all)"),
    "max_test_examples": (lambda v: v >= 0, ">= 0 (0 = all)"),
    "id_max_examples": (lambda v: v >= 0, ">= 0 (0 = all)"),
    # threads and seeds
    "threads": (lambda v: v >= 0, ">= 0 (0 = torch's default)"),
    "seed": (lambda v: 0 <= v < 2**32, "in [0, 2^32)"),
    "sample_seed": (lambda v: 0 <= v < 2**32, "in [0, 2^32)"),
    # generation and sampling
    "beam_size": (lambda v: v >= 1, ">= 1"),
    "n_samples": (lambda v: v >= 1, ">= 1"),
    "temperature": (lambda v: v >= 0, ">= 0"),
    "top_p": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "max_new_tokens": (lambda v: v >= 0, ">= 0"),
    "no_repeat_ngram_size": (lambda v: v >= 0, ">= 0"),
    # running programs
    "workers": (lambda v: v >= 1, ">= 1"),
    "timeout": (lambda v: v > 0, "a positive number of seconds"),
    "memory_mb": (lambda v: v >= 64, ">= 64"),
    "pass_k": (lambda v: all(x.strip().isdigit() and int(x) >= 1 for x in str(v).split(",")),
               "whole numbers >= 1 separated by commas, e.g. 1,10,100"),
}


def key_checks(cfg: Any, prefix: str = "") -> list[tuple[bool, str]]:
    """The (ok, message) checks of :data:`KEY_RULES` over every key of a config dataclass (sections as dotted
    keys), every float finite, and in each section with ``epochs`` or ``max_steps`` one of them positive."""
    checks: list[tuple[bool, str]] = []
    names = {f.name for f in dataclasses.fields(cfg)}
    for f in dataclasses.fields(cfg):
        value, key = getattr(cfg, f.name), f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            checks += key_checks(value, f"{key}.")
            continue
        if isinstance(value, float) and not _finite(value):
            checks.append((False, f"{key} must be a finite number, got {value}"))
        elif f.name == "batch_size" and "batch_tokens" in names and value == 0:
            continue  # beside a token budget, 0 means "the budget decides"
        elif f.name in KEY_RULES:
            ok, what = KEY_RULES[f.name]
            checks.append((ok(value), f"{key} must be {what}, got {value!r}"))
    if names & {"epochs", "max_steps"}:
        steps = [n for n in ("epochs", "max_steps") if n in names]
        checks.append((any(getattr(cfg, n) > 0 for n in steps),
                       f"{' or '.join(prefix + n for n in steps)} must be positive"))
    return checks


def validate_keys(cfg: Any, extra: list[tuple[bool, str]] = ()) -> None:
    """The shared checks of every key (:func:`key_checks`), the device and trackers, then a recipe's ``extra``
    checks: one ConfigError naming the first failure."""
    raise_first([*key_checks(cfg), *engine_checks(getattr(cfg, "device", "auto"), getattr(cfg, "report_to", [])),
                 *extra])


def check_option(name: str, key: str, value: Any) -> None:
    """A value outside a config (a command-line option such as ``tokenize --seed``, an argument of the Python API, a
    field of a stream file) that means what config key ``key`` means, checked by that key's rule in
    :data:`KEY_RULES` (and finite): one ConfigError naming it as ``name``."""
    ok, what = KEY_RULES[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name} must be a number {what}, got {value!r}.")
    if isinstance(value, float) and not _finite(value):
        raise ConfigError(f"{name} must be a finite number, got {value}.")
    if not ok(value):
        raise ConfigError(f"{name} must be {what}, got {value!r}.")


def raise_first(checks: list[tuple[bool, str]]) -> None:
    """One ConfigError with the message of the first failed (ok, message) check."""
    for ok, msg in checks:
        if not ok:
            raise ConfigError(msg + ".")


def validate_continual(cfg: ContinualConfig) -> None:
    """Checks before any work starts; each failure is one ConfigError naming the key and the fix (strategy
    names are checked against their registry by the recipe)."""
    try:
        alphas = [float(a) for a in cfg.lwf.alpha]
    except ValueError:
        raise ConfigError(f"lwf.alpha must be numbers, got {','.join(cfg.lwf.alpha)}.") from None
    validate_keys(cfg, [
        (cfg.task in ("api-call", "api-usage"), f"task must be api-call or api-usage, got {cfg.task!r}"),
        (cfg.objective in ("lm", "api"), f"objective must be lm or api, got {cfg.objective!r}"),
        (bool(cfg.strategies), "strategies must name at least one strategy"),
        (len(set(cfg.strategies)) == len(cfg.strategies), f"strategies repeat a name: {','.join(cfg.strategies)}"),
        (cfg.eval.decoding in ("sample", "beam", "greedy"),
         f"eval.decoding must be sample, beam or greedy, got {cfg.eval.decoding!r}"),
        (len(cfg.data.paths) <= 1, f"data.paths takes one file or directory, got {len(cfg.data.paths)}"),
        (cfg.train.precision != "fp16", "train.precision=fp16 is not available for continual run (a gradient "
                                        "scaler would hide the true gradients from the strategies); use bf16"),
        (cfg.id_lr >= 0, f"id_lr must be >= 0 (0 = train.lr), got {cfg.id_lr}"),
        (cfg.source_len == 0 or cfg.source_len >= 16, f"source_len must be 0 (model default) or >= 16, got "
                                                      f"{cfg.source_len}"),
        (0 < cfg.data.valid_fraction < 1, f"data.valid_fraction must be in (0, 1), got {cfg.data.valid_fraction}"),
        (cfg.repeats >= 1, f"repeats must be >= 1, got {cfg.repeats}"),
        (cfg.train.seed + cfg.repeats <= 2**32, "train.seed + repeats must stay below 2^32"),
        (cfg.id_epochs >= 0, f"id_epochs must be >= 0, got {cfg.id_epochs}"),
        (cfg.min_test_examples >= 1, f"min_test_examples must be >= 1, got {cfg.min_test_examples}"),
        (cfg.replay.memory >= 1 and cfg.replay.batch_new >= 1 and cfg.replay.batch_mem >= 0,
         "replay.memory and replay.batch_new must be >= 1, replay.batch_mem >= 0"),
        (cfg.agem.patterns >= 1 and cfg.agem.sample_size >= 1, "agem.patterns and agem.sample_size must be >= 1"),
        (cfg.rwalk.delta_t >= 1 and 0 <= cfg.rwalk.alpha <= 1, "rwalk.delta_t must be >= 1 and rwalk.alpha in [0, 1]"),
        (all(_finite(a) and a >= 0 for a in alphas) and cfg.lwf.temperature > 0,
         "lwf.alpha must be finite numbers >= 0 and lwf.temperature > 0"),
        (min(cfg.ewc.lam, cfg.si.lam, cfg.rwalk.lam) >= 0 and cfg.si.eps > 0 and cfg.si.clip_to > 0,
         "ewc.lam, si.lam and rwalk.lam must be >= 0, si.eps and si.clip_to > 0"),
    ])


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """The docstrings written under a dataclass's fields (a string literal right after ``name: type = value``)."""
    import ast
    import inspect

    out: dict[str, str] = {}
    for klass in reversed([k for k in cls.__mro__ if dataclasses.is_dataclass(k)]):  # a subclass's doc wins
        body = ast.parse(textwrap.dedent(inspect.getsource(klass))).body[0].body
        for node, nxt in zip(body, body[1:] + [None], strict=True):
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(nxt, ast.Expr) \
                    and isinstance(getattr(nxt, "value", None), ast.Constant) and isinstance(nxt.value.value, str):
                out[node.target.id] = " ".join(nxt.value.value.split())
    return out


def describe_keys(cls: type, prefix: str = "") -> list[str]:
    """One help line per config key of ``cls`` (sections expanded as dotted keys): key (type, default): doc."""
    lines = []
    docs, hints = field_docs(cls), typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            lines += describe_keys(tp, f"{prefix}{f.name}.")
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        name = getattr(tp, "__name__", str(tp).replace("typing.", ""))
        doc = docs.get(f.name, "")
        line = f"{prefix}{f.name} ({name}, default {default!r})" + (f": {doc}" if doc else "")
        lines.append(textwrap.fill(line, 116, initial_indent="  ", subsequent_indent="      "))
    return lines


def _coerce(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        return _coerce(value, next(t for t in typing.get_args(tp) if t is not type(None)), key)
    if origin is list:
        items = value if isinstance(value, list) else [v for v in str(value).split(",") if v]
        return [str(v) for v in items]
    try:
        if tp is bool:
            if isinstance(value, bool):
                return value
            low = str(value).lower()
            if low in ("true", "1", "yes", "on"):
                return True
            if low in ("false", "0", "no", "off"):
                return False
            raise ValueError(value)
        if tp is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return tp(float(value)) if tp is int and isinstance(value, str) and "e" in value.lower() else tp(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{key}={value!r}: expected {getattr(tp, '__name__', tp)}.") from None


def _fields(obj: Any) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(obj)}


def set_key(cfg: Any, key: str, value: Any) -> None:
    """Set a dotted key (``train.lr``) with type coercion; unknown keys fail with a suggestion, keys of earlier
    versions (``renamed`` of the config class) with their new name. A ``data`` section takes a list of paths
    (or one) as its ``data.paths``."""
    obj, parts = cfg, key.split(".")
    renamed = getattr(type(cfg), "renamed", {})
    if key in renamed:
        raise ConfigError(f"config key {key!r} is now {renamed[key]!r} (one key name in every command): write "
                          f"{renamed[key]}={value}.")
    for i, part in enumerate(parts):
        fields = _fields(obj)
        if part not in fields:
            prefix = ".".join(parts[:i])
            allowed = [f"{prefix}.{n}" if prefix else n for n in fields]
            raise UnknownNameError("config key", key, allowed)
        if i == len(parts) - 1:
            if dataclasses.is_dataclass(getattr(obj, part)):
                if "paths" in _fields(getattr(obj, part)) and isinstance(value, list | tuple | str | Path):
                    value = {"paths": [str(v) for v in value] if isinstance(value, list | tuple) else str(value)}
                if not isinstance(value, dict):
                    first = next(iter(_fields(getattr(obj, part))))
                    raise ConfigError(f"{key} is a section; set its keys, e.g. {key}.{first}=...")
                for k, v in value.items():
                    set_key(cfg, f"{key}.{k}", v)
            else:
                hints = typing.get_type_hints(type(obj))
                setattr(obj, part, _coerce(value, hints[part], key))
        else:
            obj = getattr(obj, part)


def apply_mapping(cfg: RunConfig, mapping: dict[str, Any], prefix: str = "") -> None:
    """Apply a (possibly nested) mapping of keys, e.g. a YAML file or a card's ``defaults``."""
    for k, v in mapping.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            apply_mapping(cfg, v, f"{key}.")
        else:
            set_key(cfg, key, v)


def from_saved(cls: type, saved: dict[str, Any]) -> Any:
    """A config ``cls`` from the settings a run saved (with its states or checkpoint), keys of earlier versions
    (``cls.renamed``) translated to their new names."""
    renamed = getattr(cls, "renamed", {})
    flat: dict[str, Any] = {}

    def flatten(mapping: dict[str, Any], prefix: str = "") -> None:
        for k, v in mapping.items():
            if isinstance(v, dict):
                flatten(v, f"{prefix}{k}.")
            elif f"{prefix}{k}" in renamed:
                flat[renamed[f"{prefix}{k}"]] = v
            elif f"{prefix}{k}" == "data" and isinstance(v, list | str):    # data: PATHS before data.paths
                flat["data.paths"] = [v] if isinstance(v, str) and v else v or []
            else:
                flat[f"{prefix}{k}"] = v

    flatten(saved)
    cfg = cls()
    for key, value in flat.items():
        set_key(cfg, key, value)
    return cfg


def load_yaml(path: str | Path) -> dict[str, Any]:
    from codeintel.io import read_yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {p} does not exist.")
    data = read_yaml(p, ConfigError) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p} must hold a mapping of config keys, not {type(data).__name__}.")
    return data


def parse_overrides(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not key=value (e.g. train.lr=3e-4).")
        k, v = item.split("=", 1)
        out[k.strip()] = v
    return out


def to_dict(cfg: RunConfig) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def resolve_device(name: str):
    """The torch device for ``device=auto|cpu|cuda[:N]``; asking for CUDA without one is a clear error."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={name} but torch sees no CUDA device; use device=cpu (or auto).")
    return torch.device(name)


def _finite(x: float) -> bool:
    return x == x and x not in (float("inf"), float("-inf"))


def validate(cfg: RunConfig) -> None:
    """Checks that need no heavy import, run before any work starts (``codeintel evaluate`` runs them too, on
    the values a checkpoint brings): every key's rule (:func:`validate_keys`) and the ones of ``train``."""
    validate_keys(cfg, [
        (0 < cfg.eval.threshold < 1, f"eval.threshold must be in (0, 1), got {cfg.eval.threshold}"),
        (cfg.dfg_length >= 1, f"dfg_length must be >= 1, got {cfg.dfg_length}"),
        (cfg.adapter_mode in ("", "frozen", "stack", "train"),
         f"adapter_mode must be frozen, stack or train, got {cfg.adapter_mode!r}"),
        (not cfg.adapter_mode or cfg.adapter, "adapter_mode needs an adapter: pass --adapter PATH_OR_PRESET"),
    ])
