"""``codeintel serve --model RUN [--index INDEX]``: a local HTTP JSON endpoint (see ``codeintel.recipes.serve``)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="a local HTTP JSON endpoint for editors: summarize, translate, embed, search",
                       description="Serve a trained model (and an index built with it) over HTTP on 127.0.0.1: "
                                   "POST /summarize, /translate, /embed, /classify, /search, /clones with a JSON "
                                   "body; GET /health. Requests from all clients are batched.")
    p.add_argument("--model", required=True, help="a checkpoint (RUN or RUN/best)")
    p.add_argument("--index", help="an index built by this model (for /search and /clones)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 = any free port)")
    p.add_argument("--max-body", type=int, default=1 << 20, help="largest request body in bytes (default 1 MiB)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds a request may take (default 60)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from codeintel.config import check_option
    from codeintel.errors import ConfigError
    from codeintel.recipes.serve import serve

    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be in 0-65535, got {args.port}.")
    check_option("--timeout", "timeout", args.timeout)          # a positive, finite number of seconds
    if args.max_body < 1:
        raise ConfigError(f"--max-body must be at least 1 byte, got {args.max_body}.")
    try:
        serve(args.model, args.index, args.host, args.port, max_body=args.max_body, timeout=args.timeout)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}; choose another --port.") from None
    return 0
