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

from attento.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
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
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default: %(default)s, this machine only; 0.0.0.0 serves the "
        "network, e.g. a classroom, and answers any IP address in the URL)",
    )
    p.add_argument("--port", type=port_number, default=8000, help="port (default: %(default)s)")
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests addressed to this host name (e.g. aula3.local); repeatable",
    )
    p.add_argument(
        "--api-docs",
        action="store_true",
        help="serve the API description at /openapi.json and /docs (off by default)",
    )
    p.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        help="CPU threads each request computes on (default: %(default)s; requests run in "
        "parallel, so more threads per request only pay off for one user on a big model)",
    )
    p.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    p.set_defaults(func=run_explain)


def port_number(text: str) -> int:
    """A TCP port, 1-65535 (argparse turns the error into one line)."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)")
    return port


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return value


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
    from attento.explain.server import WILDCARD_BINDS, create_app

    catalog = Catalog.discover(args.model, args.models_dir)
    check_port(args.host, args.port)
    # Requests are computed in parallel on the server's thread pool: with several torch
    # threads each, a class of clients oversubscribes the cores (bench/RESULTS.md, explain.py)
    torch.set_num_threads(args.threads)
    app = create_app(catalog, host=args.host, allow_hosts=args.allow_host, api_docs=args.api_docs)
    wildcard = args.host in WILDCARD_BINDS
    local = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(args.host, args.host)
    url = f"http://{bracket(local)}:{args.port}/"
    print(f"attento explainer: {url} (model {catalog.default}; Ctrl+C to stop)", flush=True)
    if wildcard:
        address = network_address()
        where = f"http://{bracket(address)}:{args.port}/" if address else "this machine's address"
        print(f"on the network (trusted networks only): {where}", flush=True)
    if not args.no_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
