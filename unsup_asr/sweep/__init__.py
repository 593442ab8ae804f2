"""Layer sweeps: ``uasr sweep-layers`` (:mod:`unsup_asr.sweep.run`) and the per-layer cluster
diagnostic it reports (:mod:`unsup_asr.sweep.layer_pnmi`)."""
