"""``texsynth serve``: the web page (:mod:`texsynth.web`) on a local server."""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path
from typing import Any

from ..errors import TexsynthError

__all__ = ["add_serve_command", "cmd_serve", "is_local"]


def is_local(host: str) -> bool:
    """Whether ``host`` is a loopback address (only this machine can connect)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def add_serve_command(sub: Any) -> None:
    """Register ``texsynth serve`` on the subcommand parsers ``sub``."""
    sv = sub.add_parser(
        "serve",
        help="a web page: drop a picture, get seamless textures (docs/web.md)",
        description="Start the web page of texsynth (FastAPI + uvicorn; needs "
        "pip install 'texsynth[web]'). Open the printed address in a browser.",
    )
    sv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sv.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    sv.add_argument(
        "--workers", type=int, default=1, help="syntheses run at once; the rest queue (default 1)"
    )
    sv.add_argument(
        "--max-upload-mb", type=float, default=20.0, help="largest upload in MB (default 20)"
    )
    sv.add_argument(
        "--data",
        type=Path,
        default=Path("texsynth-data"),
        help="folder of results (kept 24 h, 2 GB at most) and trained generators "
        "(DATA/generators/*.safetensors); default ./texsynth-data",
    )
    sv.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    """Run ``texsynth serve`` until interrupted."""
    try:
        import uvicorn

        from ..web import WebConfig
        from ..web.server import create_app
    except ImportError as exc:
        raise TexsynthError(
            f"texsynth serve needs the web extra ({exc.name} is missing): "
            "pip install 'texsynth[web]'"
        ) from None
    if args.workers < 1:
        raise TexsynthError(f"--workers must be >= 1, got {args.workers}")
    if not 0 < args.max_upload_mb <= 1024:
        raise TexsynthError(f"--max-upload-mb must be in (0, 1024], got {args.max_upload_mb}")
    if not 0 <= args.port <= 65535:
        raise TexsynthError(f"--port must be in 0..65535, got {args.port}")
    if not is_local(args.host):
        print(
            f"texsynth: warning: serving on {args.host}, not localhost: anyone who can reach "
            "this address can upload files and use this machine's processor",
            file=sys.stderr,
        )
    args.data.mkdir(parents=True, exist_ok=True)
    config = WebConfig(args.data, workers=args.workers, max_upload_mb=args.max_upload_mb)
    app = create_app(config)
    shown = "localhost" if is_local(args.host) else args.host
    print(f"texsynth: open http://{shown}:{args.port}/ (Ctrl+C stops the server)")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
