"""MkDocs hook: render the CLI flag reference from `tsodso --help` at build time.

docs/cli.md ends with the marker `<!-- cli-reference -->`; this hook replaces it with the
`--help` text of every subcommand, taken from the installed package, so the reference is
always the code's. A command that fails to print its help fails the build.
"""
import re
import subprocess
import sys

MARKER = "<!-- cli-reference -->"


def _help(*args) -> str:
    out = subprocess.run([sys.executable, "-m", "tsodso", *args, "--help"], capture_output=True,
                         text=True, timeout=120, env={"COLUMNS": "100", "PATH": ""})
    if out.returncode != 0:
        raise RuntimeError(f"tsodso {' '.join(args)} --help failed: {out.stderr.strip()}")
    return out.stdout.rstrip()


def cli_reference() -> str:
    top = _help()
    m = re.search(r"\{([a-z0-9_,-]+)\}", top)
    if m is None:
        raise RuntimeError("no subcommand list in `tsodso --help`")
    parts = ["```text", top, "```"]
    for cmd in m.group(1).split(","):
        parts += [f"### tsodso {cmd}", "", "```text", _help(cmd), "```", ""]
    return "\n".join(parts)


def on_page_markdown(markdown, page, config, files):
    if MARKER in markdown:
        return markdown.replace(MARKER, cli_reference())
    return markdown
