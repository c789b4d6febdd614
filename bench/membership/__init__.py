"""The membership-inference track: does a zoo model betray which images it was trained on?

Extraction (the rest of the suite) asks whether a model's outputs copy members; membership
inference asks the cheaper question of whether a given image was a member, from a few denoiser
evaluations on that image. The track shares the zoo, the member sets, cards and records with
extraction, and draws its own held-out non-members (``heldout``), so extraction's chance levels
stay where they are.

Modules, in the order data flows: ``heldout`` (the track's non-member manifest), ``queries`` (the
denoiser as ε and x̂₀ at chosen timesteps, counting evaluations), ``base`` and one module per
method (``loss``, ``secmi``, ``pia``, ``sima``), ``cards`` (the method registry), ``protocol``
(held-out thresholds, AUC, TPR at low FPR, bootstrap intervals), ``score`` (one method on one
model, as a record), ``extraction`` (members extraction recovered), ``tuning`` (the stated rule
that fixes each method's defaults on the tuning model), ``floors`` (CI floors and their
mutations) and ``report`` (``reports/membership.md``).

This layer sits above ``records`` (it reads extraction records for "membership meets
extraction") and below ``runner``; ``bench mia`` drives it.
"""
