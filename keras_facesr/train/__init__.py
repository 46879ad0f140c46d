"""Stage 3, training: ``fit`` (the orchestration, ``tf.distribute``), the run folder (``run``),
callbacks (stop conditions, sample grids, NaN guard) and crash-safe checkpoints."""
