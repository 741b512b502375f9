"""`streamscribe` command: one entry point, each subcommand owned by its package."""

from __future__ import annotations

import importlib
import sys

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


def _usage() -> str:
    lines = ["usage: streamscribe COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<11} {help_}" for name, (_, help_) in SUBCOMMANDS.items()]
    lines += ["", "Run `streamscribe COMMAND --help` for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f"streamscribe: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(SUBCOMMANDS[name][0])
    result = module.main(rest)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
