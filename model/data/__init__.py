"""Training data for streamscribe: text selection, speech synthesis with word timings,
augmentation, shard writing/reading and the real training set loader.

See model/data/README.md for the decisions (text form, engines, measured timing errors).
"""

from model.data.example import Example, TimedWord

__all__ = ["Example", "TimedWord"]
