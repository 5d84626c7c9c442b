"""The `slt` command line: one command per job."""

from __future__ import annotations

import typer

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Gloss-free sign language translation from body keypoints (FLa-LLM).",
    pretty_exceptions_enable=False,
)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one clear line on stderr and return the exit to raise: `raise fail("...")`."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


if __name__ == "__main__":
    app()
