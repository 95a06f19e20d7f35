"""Model judges: ``trace``, the TRACE-protocol constraint judge and the verdict reader it shares
with the pairwise win-rate judge (followkit.evaluate.winrate)."""
