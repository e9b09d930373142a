"""The training infrastructure around an algorithm: the one training loop (``trainer``), the
episode log, greedy evaluation and play, TensorBoard summaries, and checkpoints for --resume
(``state``)."""
