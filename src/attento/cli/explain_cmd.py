"""`attento explain`: open the browser explainer on a model.

By default the server listens on 127.0.0.1 and answers only this machine. For a classroom,
`--host 0.0.0.0` serves the whole (trusted) network: students open http://<this machine's IP>:
<port>/; a name for the machine (e.g. `aula3.local`) must be allowed with `--allow-host`, so
that a web page elsewhere cannot drive the server through DNS rebinding (server.HostRule).
"""

from __future__ import annotations

import argparse
import socket
import threading
import webbrowser
from pathlib import Path

from attento.cli.common import add_config_flags, config_from_args
from attento.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    from attento.explain.settings import ServeSettings

    p = sub.add_parser(
        "explain",
        help="watch a model compute, step by step, in the browser",
        description="Start a local web server that traces the model on a prompt and draws "
        "every step: tokens, embeddings, attention, feed-forward, logits, sampling, KV cache.",
    )
    p.add_argument(
        "--model",
        default=None,
        help="a bundled model name, a checkpoint or Hugging Face model folder, or a Hub id "
        "such as gpt2 (from the Hugging Face cache) (default: dante)",
    )
    p.add_argument("--models-dir", default=None, help="also list the checkpoints in this folder")
    add_config_flags(p, ServeSettings, ("host", "port"))
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests addressed to this host name (e.g. aula3.local); repeatable",
    )
    add_config_flags(p, ServeSettings, ("api_docs", "threads"))
    labs = p.add_argument_group("labs (page /labs.html)")
    labs.add_argument("--chat-model", help="chat model folder whose answers you rank (attento sft)")
    labs.add_argument("--after-model", help="the same model after training (attento dpo/ppo)")
    labs.add_argument("--reward-model", help="reward model scoring before/after (attento reward)")
    labs.add_argument("--rankings", help="the .jsonl file rankings are appended to")
    labs.add_argument("--refusal", help="a folder written by attento refusal-demo")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    p.set_defaults(func=run_explain)


def check_port(host: str, port: int) -> None:
    """Fail with one clear line, before loading anything, when the port is taken."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise UserError(f"cannot bind to host {host!r}: unknown address") from None
    family, kind, _, _, address = infos[0]
    with socket.socket(family, kind) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            sock.bind(address)
        except OSError:
            raise UserError(
                f"port {port} on {host} is already in use: pick another with --port"
            ) from None


def bracket(host: str) -> str:
    """An IPv6 address in a URL goes in brackets."""
    return f"[{host}]" if ":" in host else host


def network_address() -> str | None:
    """This machine's address on its network, as the students type it (None if unknown).

    Connecting a UDP socket sends nothing; it only asks the kernel which local address would
    be used to reach a private-network address."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect(("10.254.254.254", 1))
            address = sock.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def run_explain(args: argparse.Namespace) -> int:
    import torch
    import uvicorn

    from attento.explain.catalog import Catalog
    from attento.explain.labs import Labs
    from attento.explain.server import WILDCARD_BINDS, create_app
    from attento.explain.settings import ServeSettings

    serve = config_from_args(
        ServeSettings,
        args,
        ("host", "port", "api_docs", "threads"),
        allow_hosts=tuple(args.allow_host),
    )
    catalog = Catalog.discover(args.model, args.models_dir)
    labs = Labs(
        *(
            None if v is None else Path(v)
            for v in (
                args.chat_model,
                args.after_model,
                args.reward_model,
                args.rankings,
                args.refusal,
            )
        )
    )
    check_port(serve.host, serve.port)
    # Requests are computed in parallel on the server's thread pool: with several torch
    # threads each, a class of clients oversubscribes the cores (bench/RESULTS.md, explain.py)
    torch.set_num_threads(serve.threads)
    app = create_app(
        catalog, host=serve.host, allow_hosts=serve.allow_hosts, api_docs=serve.api_docs, labs=labs
    )
    wildcard = serve.host in WILDCARD_BINDS
    local = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(serve.host, serve.host)
    url = f"http://{bracket(local)}:{serve.port}/"
    print(f"attento explainer: {url} (model {catalog.default}; Ctrl+C to stop)", flush=True)
    print(f"labs (embeddings, RLHF, refusal): {url}labs.html", flush=True)
    if wildcard:
        address = network_address()
        where = f"http://{bracket(address)}:{serve.port}/" if address else "this machine's address"
        print(f"on the network (trusted networks only): {where}", flush=True)
    if not args.no_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    uvicorn.run(app, host=serve.host, port=serve.port, log_level="warning")
    return 0
