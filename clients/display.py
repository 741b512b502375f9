"""Terminal rendering of a live transcript: words as they arrive, one line per utterance.

Words are printed when their timing arrives (``words`` on delta events); a word that starts
more than ``pause_s`` after the previous word ended begins a new line. Text whose timing is
not known yet is shown as a dim tail on a terminal (erased and redrawn as it changes), so the
display is live even before word ends are known. Against a server that sends no word timings,
delta text is printed as it comes.
"""

from __future__ import annotations

import sys
from typing import TextIO

from clients.realtime_client import Delta, Done, Word

DIM = "\x1b[2m"
RESET = "\x1b[0m"
SAVE_CURSOR = "\x1b7"
RESTORE_AND_ERASE = "\x1b8\x1b[J"  # back to the saved position, erase to the end of screen
MAX_TAIL_CHARS = 40


class LiveTranscript:
    def __init__(
        self,
        out: TextIO | None = None,
        pause_s: float = 1.0,
        color: bool | None = None,
    ) -> None:
        self.out = out if out is not None else sys.stdout
        self.pause_s = pause_s
        self.tty = bool(
            color if color is not None else getattr(self.out, "isatty", lambda: False)()
        )
        self.text = ""  # every delta so far
        self.words: list[Word] = []
        self.lines: list[str] = [""]  # utterances as rendered
        self._matched = 0  # chars of self.text covered by timed words
        self._printed_plain = 0  # chars of self.text printed before timings started coming
        self._tail_shown = 0  # visible width of the dim tail currently on screen
        self._timed_mode = False  # the server sends words: lay lines out by their timing
        self.done: Done | None = None

    # -- events -------------------------------------------------------------------------
    def on_event(self, event: Delta | Done) -> None:
        if isinstance(event, Done):
            self.finish(event)
            return
        self.text += event.text
        if event.words:
            self._timed_mode = True
        if not self._timed_mode:
            self._write_plain(event.text)
            self._printed_plain = len(self.text)
            return
        self._erase_tail()
        for word in event.words:
            self._add_word(word)
        self._draw_tail()
        self.out.flush()

    def finish(self, done: Done) -> None:
        self.done = done
        self._erase_tail()
        for word in done.words[len(self.words) :]:  # words the deltas did not carry
            self._add_word(word)
        if self._timed_mode or self.lines[-1]:
            rest = self._untimed_tail()
            if rest and self._timed_mode:
                self._append_to_line(rest)
            self.out.write("\n")
        self.out.flush()

    # -- rendering ------------------------------------------------------------------------
    def _write_plain(self, text: str) -> None:
        parts = text.split("\n")
        for i, part in enumerate(parts):
            if i:
                self.out.write("\n")
                self.lines.append("")
            if not self.lines[-1]:
                part = part.lstrip()
            self.lines[-1] += part
            self.out.write(part)
        self.out.flush()

    def _add_word(self, word: Word) -> None:
        prev = self.words[-1] if self.words else None
        self.words.append(word)
        pos = self.text.find(word.text, self._matched)
        if pos >= 0:
            self._matched = pos + len(word.text)
            if self._matched <= self._printed_plain:
                return  # already on screen from before timings started coming
            if pos < self._printed_plain:  # its beginning is on screen: add the rest
                rest = self.text[self._printed_plain : self._matched]
                self.lines[-1] += rest
                self.out.write(rest)
                return
        if prev is not None and word.start - prev.end > self.pause_s and self.lines[-1]:
            self.out.write("\n")
            self.lines.append("")
        self._append_to_line(word.text)

    def _append_to_line(self, text: str) -> None:
        text = text.strip()
        if not text:
            return
        piece = (" " if self.lines[-1] else "") + text
        self.lines[-1] += piece
        self.out.write(piece)

    def _untimed_tail(self) -> str:
        return self.text[self._matched :].strip()

    def _draw_tail(self) -> None:
        if not self.tty:
            return
        tail = self._untimed_tail()
        if not tail:
            return
        if len(tail) > MAX_TAIL_CHARS:
            tail = "…" + tail[-MAX_TAIL_CHARS:]
        shown = (" " if self.lines[-1] else "") + tail
        self.out.write(f"{SAVE_CURSOR}{DIM}{shown}{RESET}")
        self._tail_shown = len(shown)

    def _erase_tail(self) -> None:
        if self._tail_shown:
            self.out.write(RESTORE_AND_ERASE)
            self._tail_shown = 0

    def interrupt(self) -> None:
        """End the current line (before an error message) if anything is on it."""
        self._erase_tail()
        if self.lines[-1]:
            self.out.write("\n")
            self.lines.append("")
        self.out.flush()

    @property
    def rendered(self) -> str:
        return "\n".join(self.lines)
