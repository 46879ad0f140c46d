"""Stage 1, data: where faces come from (``sources``: NBA and the identity set;
``face_sources``: the registry of photo packages), how training pairs are made (``degrade``,
``augment``) and the tf.data pipeline that feeds ``fit`` (``pipeline``)."""
