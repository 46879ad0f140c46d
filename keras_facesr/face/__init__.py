"""Finding and framing faces, used by every stage that touches photos (data preparation, export
calibration, the pipeline): MTCNN detection (``detect``; its numpy steps in ``mtcnn_steps``,
shared with the on-device runtime) and 5-point similarity alignment (``align``)."""
