"""REBORN-style reinforcement-learned boundary segmentation.

- :mod:`segmentation.rl.config`: ``RlConfig`` (``cfg.rl``), the policy's and the reward's settings;
- :mod:`segmentation.rl.reward`: the reward terms (phone-LM perplexity, edit distance and length
  ratio against the previous iteration's transcription) and their weighted sum, pure functions;
- :mod:`segmentation.rl.scorer`: segments -> transcription by the fixed current generator -> reward;
- :mod:`segmentation.rl.env`: ``BoundaryEnv``, the gymnasium interface (one utterance per episode);
- :mod:`segmentation.rl.projection`: how frames are pooled into the GAN's segment embeddings;
- :mod:`segmentation.rl.policy`: the CNN boundary policy and its Bernoulli helpers;
- :mod:`segmentation.rl.ppo`: behaviour cloning, then policy-gradient training (collect, advantages, update);
- :mod:`segmentation.rl.segmenter`: the ``rl`` segmenter (a trained policy).

The iteration (policy -> segments -> GAN re-training) is :mod:`unsup_asr.stages.rl_iterate`.
This file imports nothing, so that registering the ``rl`` segmenter stays light.
"""
