"""Looking inside a model: attention maps (``attn-map``), the spectral-norm audit (``sn-check``)
and what a checkpoint holds (``info``)."""
