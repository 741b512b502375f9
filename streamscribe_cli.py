"""`streamscribe` command: one entry point, each subcommand owned by its package."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

# subcommand -> (module, one-line help). Modules are imported lazily so that
# `streamscribe --help` is instant and a client machine needs no torch.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("server.cli", "run the WebSocket/HTTP transcription server"),
    "transcribe": ("model.cli", "transcribe audio files offline with a local model"),
    "train": ("model.training.cli", "train or fine-tune a model (resumable)"),
    "eval": ("eval.cli", "WER evaluation on a dataset, in-process or against a server"),
    "stream": ("clients.file_client", "stream audio files to a server and print the transcript"),
    "mic": ("clients.mic_client", "live microphone transcription through a server"),
}


# glibc's malloc hands the large tensors of a training step back to the kernel and faults
# them in again next step (125k page faults/s, half the CPU in the kernel, on this 2-core
# machine); jemalloc that keeps its pages made a training step 1.6x faster. Debian:
# libjemalloc2. STREAMSCRIBE_ALLOCATOR=system opts out.
# Keep freed pages 10 s (steps reuse them within that) but not for ever: with decay off
# (-1) a run over 17 h of cached frames grew ~250 MB a minute to 17.7 GB and two side by
# side were killed for memory; at 10 s one stays near 4 GB for ~15% slower steps.
# MALLOC_CONF in the environment wins.
JEMALLOC_CONF = "dirty_decay_ms:10000,muzzy_decay_ms:10000"
JEMALLOC_PATHS = ["/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
                  "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2", "/usr/lib/libjemalloc.so.2"]


def _reexec_with_jemalloc(argv: list[str]) -> None:
    """Restart this command with jemalloc preloaded, when it helps and is installed."""
    if argv[0] != "train" or os.environ.get("STREAMSCRIBE_ALLOCATOR") == "system" \
            or "jemalloc" in os.environ.get("LD_PRELOAD", ""):
        return
    library = next((p for p in JEMALLOC_PATHS if Path(p).exists()), None)
    if library is None:
        return
    preload = " ".join(filter(None, [library, os.environ.get("LD_PRELOAD")]))
    env = {"MALLOC_CONF": JEMALLOC_CONF, **os.environ, "LD_PRELOAD": preload}
    os.execve(sys.executable, [sys.executable, "-m", "streamscribe_cli", *argv], env)


def _usage() -> str:
    lines = ["usage: streamscribe COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<11} {help_}" for name, (_, help_) in SUBCOMMANDS.items()]
    lines += ["", "Run `streamscribe COMMAND --help` for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from_command_line = argv is None  # never re-exec a caller that passed argv in-process
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f"streamscribe: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    if from_command_line and "--help" not in rest and "-h" not in rest:
        _reexec_with_jemalloc(argv)
    module = importlib.import_module(SUBCOMMANDS[name][0])
    result = module.main(rest)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
