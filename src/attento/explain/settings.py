"""How `attento explain` serves: the address, the port and the work each request may take.

The defaults keep the explainer private: bound to 127.0.0.1 it answers only this machine.
A classroom binds 0.0.0.0 and names the machine's host name in `allow_hosts` (see
server.HostRule, which keeps a web page elsewhere from driving the server by DNS rebinding).
"""

from __future__ import annotations

from dataclasses import dataclass

from attento.config import Config, check_counts
from attento.errors import UserError


@dataclass
class ServeSettings(Config):
    """Where and how the explainer's server listens; checked when made.

    host: address to bind: 127.0.0.1 is this machine only; 0.0.0.0 serves the network, e.g.
        a classroom, and answers any IP address in the URL
    port: TCP port
    allow_hosts: more host names to answer requests addressed to (e.g. aula3.local)
    api_docs: serve the API description at /openapi.json and /docs
    threads: CPU threads each request computes on (requests run in parallel, so more
        threads per request only pay off for one user on a big model)
    """

    host: str = "127.0.0.1"
    port: int = 8000
    allow_hosts: tuple[str, ...] = ()
    api_docs: bool = False
    threads: int = 1

    def check(self) -> None:
        port = self.port
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise UserError(f"port: {port!r} is not a port number (1-65535)")
        check_counts(self, "threads")
