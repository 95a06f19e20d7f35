"""Training losses as pure functions of summed response log-probs (DESIGN section 6).

Every preference loss takes 1-D tensors (one entry per pair or group) of log-probs summed over the
response tokens, for the policy and (DPO, IOPO) for the reference, and returns ``(per_item_loss, metrics)``
where ``metrics`` holds detached tensors (implicit rewards, reward accuracies, margins). The
trainer looks the method up in followkit.train.methods.METHODS (its loss, layout and SFT slots);
it never branches on the method.

Logged metrics and their formulas (mean over the items of a step):

==========================  =====================================================
``rewards/chosen``          beta * (logp_chosen - ref_logp_chosen)
``rewards/rejected``        beta * (logp_rejected - ref_logp_rejected)
``rewards/margins``         rewards/chosen - rewards/rejected
``rewards/accuracies``      share of items with rewards/chosen > rewards/rejected
``rewards/A`` ... ``/D``    IOPO: beta * (A - A_ref), ... beta * (D - D_ref)
``rewards/accuracies_x1``   IOPO: share with r_A > r_B (y1 beats y2 under x1)
``rewards/accuracies_x2``   IOPO: share with r_C > r_D (y2 beats y1 under x2)
``rewards/margins``         IOPO: beta * the mean of the logits of the loss's sigmoid(s)
``rewards/chosen``          SimPO / ORPO: beta * logp_chosen / |chosen| (ORPO: lambda for beta)
``rewards/rejected``        SimPO / ORPO: beta * logp_rejected / |rejected|
``log_odds_ratio``          ORPO: log sigmoid(log odds(chosen) - log odds(rejected))
``log_odds_chosen``         ORPO: log odds(chosen) - log odds(rejected)
``loss/preference``         preference loss (ORPO: lambda * L_OR), preference items only
``loss/sft``                SFT term (sft_weight, pref_ftx; ORPO's L_SFT); general items in it
==========================  =====================================================
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from followkit.train.methods import METHODS

Metrics = dict[str, torch.Tensor]

DPO_LOSS_TYPES = ("sigmoid", "ipo", "hinge")
IOPO_ABLATIONS = (None, "no_input_pref", "no_output_pref")


def _smoothed_sigmoid_loss(logits: torch.Tensor, beta: float, label_smoothing: float) -> torch.Tensor:
    # Conservative (label-smoothed) logistic loss: with probability eps the preference label is flipped.
    return -(1.0 - label_smoothing) * F.logsigmoid(beta * logits) - label_smoothing * F.logsigmoid(
        -beta * logits
    )


def sft_loss(token_logps: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood over the masked (response) tokens of a micro-batch.

    Input: ``token_logps`` (any shape) log-probs of the label tokens, ``mask`` of the same shape,
    1 where the token is a response token. Output: a scalar (TRL's convention: a token mean over
    the micro-batch, not a mean of per-sequence means).
    """
    mask = mask.to(token_logps.dtype)
    return -(token_logps * mask).sum() / mask.sum().clamp(min=1.0)


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float = 0.1,
    label_smoothing: float = 0.0,
    loss_type: str = "sigmoid",
    chosen_lengths: torch.Tensor | None = None,
    rejected_lengths: torch.Tensor | None = None,
) -> tuple[torch.Tensor, Metrics]:
    """Per-pair DPO loss (sigmoid, IPO or hinge) from summed response log-probs.

    Input: four 1-D tensors (one entry per pair). ``label_smoothing`` is the conservative-DPO
    flip probability (sigmoid only). For ``ipo`` the log-ratios are divided by the response
    lengths when given (TRL 1.16 does so, to make beta independent of length).
    Output: (loss per pair, metrics: rewards/chosen, rewards/rejected, rewards/margins,
    rewards/accuracies, all detached and per pair).

    References: Rafailov et al. 2023 (DPO), Azar et al. 2023 (IPO); TRL's DPOTrainer.

    Example: ``dpo_loss(t([-1.]), t([-2.]), t([-1.5]), t([-1.5]))[0]`` is
    ``-log sigmoid(0.1 * 1.0) = tensor([0.6444])``.
    """
    if loss_type not in DPO_LOSS_TYPES:
        raise ValueError(f"unknown DPO loss_type '{loss_type}'; expected one of {DPO_LOSS_TYPES}")
    chosen_ratio = policy_chosen - ref_chosen
    rejected_ratio = policy_rejected - ref_rejected
    logits = chosen_ratio - rejected_ratio
    if loss_type == "sigmoid":
        losses = _smoothed_sigmoid_loss(logits, beta, label_smoothing)
    elif loss_type == "hinge":
        losses = torch.relu(1.0 - beta * logits)
    else:  # ipo: squared distance of the (length-normalised) margin from 1 / (2 beta)
        if chosen_lengths is not None and rejected_lengths is not None:
            logits = chosen_ratio / chosen_lengths.clamp(min=1) - rejected_ratio / rejected_lengths.clamp(
                min=1
            )
        losses = (logits - 1.0 / (2.0 * beta)) ** 2
    chosen_rewards = beta * chosen_ratio.detach()
    rejected_rewards = beta * rejected_ratio.detach()
    metrics = {
        "rewards/chosen": chosen_rewards,
        "rewards/rejected": rejected_rewards,
        "rewards/margins": chosen_rewards - rejected_rewards,
        "rewards/accuracies": (chosen_rewards > rejected_rewards).float(),
    }
    return losses, metrics


def iopo_comparisons(
    a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, d: torch.Tensor, ablation: str | None
) -> tuple[torch.Tensor, ...]:
    """The logits of each sigmoid in IOPO or an ablation, from the log-ratios a, b, c, d (DESIGN 6)."""
    if ablation is None:
        return (0.5 * ((2 * a - b - d) + (2 * c - d - b)),)
    # The ablations are separate sigmoids: a regrouping of a + c - b - d inside one sigmoid would
    # only be the full loss at another beta.
    if ablation == "no_input_pref":  # output pairs only: y1 vs y2 with x fixed
        return (a - b, c - d)
    if ablation == "no_output_pref":  # input pairs only: x1 vs x2 with y fixed
        return (a - d, c - b)
    raise ValueError(f"unknown IOPO ablation '{ablation}'; expected one of {IOPO_ABLATIONS}")


def iopo_loss(
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor,
    A_ref: torch.Tensor,
    B_ref: torch.Tensor,
    C_ref: torch.Tensor,
    D_ref: torch.Tensor,
    beta: float = 0.1,
    label_smoothing: float = 0.0,
    ablation: str | None = None,
) -> tuple[torch.Tensor, Metrics]:
    """Per-group IOPO loss (Zhang et al. 2024, arXiv 2411.06208) from summed response log-probs.

    Input: A = log pi(y1|x1), B = log pi(y2|x1), C = log pi(y2|x2), D = log pi(y1|x2) and the
    same under the reference, 1-D tensors with one entry per group. With a = A - A_ref etc.,
    logits = 0.5 * ((2a - b - d) + (2c - d - b)) and
    loss = -(1 - eps) log sigmoid(beta logits) - eps log sigmoid(-beta logits).
    With l(z) = -(1 - eps) log sigmoid(beta z) - eps log sigmoid(-beta z), ``ablation``
    "no_input_pref" is 0.5 * (l(a - b) + l(c - d)) and "no_output_pref" is
    0.5 * (l(a - d) + l(c - b)): two sigmoids, not one.
    Output: (loss per group, metrics: rewards/A..D, rewards/accuracies_x1 (r_A > r_B),
    rewards/accuracies_x2 (r_C > r_D), rewards/accuracies (their mean), rewards/margins (beta
    times the mean of the sigmoids' logits)).

    Example: with a = 1 and b = c = d = 0 the logits are 1 and the loss is
    ``-log sigmoid(0.1) = 0.6444``.
    """
    a, b, c, d = A - A_ref, B - B_ref, C - C_ref, D - D_ref
    comparisons = iopo_comparisons(a, b, c, d, ablation)
    losses = sum(_smoothed_sigmoid_loss(z, beta, label_smoothing) for z in comparisons) / len(comparisons)
    logits = sum(comparisons) / len(comparisons)
    r_a, r_b, r_c, r_d = (beta * t.detach() for t in (a, b, c, d))
    acc_x1 = (r_a > r_b).float()
    acc_x2 = (r_c > r_d).float()
    metrics = {
        "rewards/A": r_a,
        "rewards/B": r_b,
        "rewards/C": r_c,
        "rewards/D": r_d,
        "rewards/accuracies_x1": acc_x1,
        "rewards/accuracies_x2": acc_x2,
        "rewards/accuracies": 0.5 * (acc_x1 + acc_x2),
        "rewards/margins": beta * logits.detach(),
    }
    return losses, metrics


def simpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    chosen_lengths: torch.Tensor,
    rejected_lengths: torch.Tensor,
    beta: float = 2.0,
    gamma: float = 1.0,
    label_smoothing: float = 0.0,
) -> tuple[torch.Tensor, Metrics]:
    """Per-pair SimPO loss (Meng et al. 2024, arXiv 2405.14734) from summed response log-probs; no reference.

    Input: four 1-D tensors (one entry per pair): summed log-probs and response lengths in tokens.
    With m = logp_chosen / |chosen| - logp_rejected / |rejected|,
    loss = -(1 - eps) log sigmoid(beta m - gamma) - eps log sigmoid(-(beta m - gamma)).
    Output: (loss per pair, metrics: rewards/chosen = beta logp_chosen / |chosen|, rewards/rejected,
    rewards/margins, rewards/accuracies; detached, per pair).

    References: TRL's CPOTrainer.cpo_loss with loss_type="simpo", cpo_alpha=0 (DESIGN 12).

    Example: ``simpo_loss(t([-4.]), t([-12.]), t([4.]), t([6.]))[0]`` is
    ``-log sigmoid(2 * (-1 + 2) - 1) = tensor([0.3133])``.
    """
    chosen = policy_chosen / chosen_lengths.clamp(min=1)
    rejected = policy_rejected / rejected_lengths.clamp(min=1)
    # As TRL: beta * (m - gamma / beta), so that label smoothing flips the same logits.
    losses = _smoothed_sigmoid_loss(chosen - rejected - gamma / beta, beta, label_smoothing)
    chosen_rewards, rejected_rewards = beta * chosen.detach(), beta * rejected.detach()
    metrics = {
        "rewards/chosen": chosen_rewards,
        "rewards/rejected": rejected_rewards,
        "rewards/margins": chosen_rewards - rejected_rewards,
        "rewards/accuracies": (chosen_rewards > rejected_rewards).float(),
    }
    return losses, metrics


def log1mexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 - exp(x)) for x < 0, without cancellation (Maechler 2012: switch at -log 2)."""
    return torch.where(x < -0.6931471805599453, torch.log1p(-torch.exp(x)), torch.log(-torch.expm1(x)))


def orpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    chosen_lengths: torch.Tensor,
    rejected_lengths: torch.Tensor,
    lam: float = 0.1,
) -> tuple[torch.Tensor, Metrics]:
    """Per-pair ORPO odds-ratio term lambda * L_OR (Hong et al. 2024, arXiv 2403.07691); no reference.

    Input: four 1-D tensors (one entry per pair): summed log-probs and response lengths in tokens.
    With l = logp / |y| (the mean per-token log-prob, P = exp(l)) and log odds = l - log(1 - exp(l)),
    L_OR = -log sigmoid(log odds(chosen) - log odds(rejected)). ORPO's loss is L_SFT(chosen) + lambda * L_OR;
    L_SFT is the method's SFT term (``dpo_sft_term``, a token mean over the micro-batch, as TRL's).
    Output: (lambda * L_OR per pair, metrics: rewards/chosen = lambda * l_chosen, rewards/rejected,
    rewards/margins, rewards/accuracies, log_odds_ratio, log_odds_chosen; detached, per pair).

    References: TRL's ORPOTrainer.odds_ratio_loss (its ``beta`` is lambda; DESIGN 12).

    Example: l_chosen = log 0.5, l_rejected = log 0.2: log odds 0 and log 0.25, so
    L_OR = -log sigmoid(log 4) = log 1.25 and ``orpo_loss`` gives 0.1 * 0.2231 = ``tensor([0.0223])``.
    """
    chosen = (policy_chosen / chosen_lengths.clamp(min=1)).float()
    rejected = (policy_rejected / rejected_lengths.clamp(min=1)).float()
    log_odds = (chosen - rejected) - (log1mexp(chosen) - log1mexp(rejected))
    ratio = F.logsigmoid(log_odds)
    chosen_rewards, rejected_rewards = lam * chosen.detach(), lam * rejected.detach()
    metrics = {
        "rewards/chosen": chosen_rewards,
        "rewards/rejected": rejected_rewards,
        "rewards/margins": chosen_rewards - rejected_rewards,
        "rewards/accuracies": (chosen_rewards > rejected_rewards).float(),
        "log_odds_ratio": ratio.detach(),
        "log_odds_chosen": log_odds.detach(),
    }
    return (-lam * ratio).to(policy_chosen.dtype), metrics


def dpo_from_batch(logps: torch.Tensor, ref: torch.Tensor, lengths: torch.Tensor, **kw: Any):
    """DPO over a batch: ``logps``, ``ref``, ``lengths`` (items, 2) in the order [chosen, rejected]."""
    return dpo_loss(
        logps[:, 0],
        logps[:, 1],
        ref[:, 0],
        ref[:, 1],
        chosen_lengths=lengths[:, 0].to(logps.dtype),
        rejected_lengths=lengths[:, 1].to(logps.dtype),
        **kw,
    )


def iopo_from_batch(logps: torch.Tensor, ref: torch.Tensor, lengths: torch.Tensor, **kw: Any):
    """IOPO over a batch: ``logps``, ``ref`` (groups, 4) in the order [A, B, C, D]."""
    return iopo_loss(*logps.unbind(1), *ref.unbind(1), **kw)


def simpo_from_batch(
    logps: torch.Tensor,
    ref: None,
    lengths: torch.Tensor,
    simpo_beta: float = 2.0,
    simpo_gamma: float = 1.0,
    label_smoothing: float = 0.0,
):
    """SimPO over a batch: ``logps``, ``lengths`` (items, 2) in the order [chosen, rejected]; no reference."""
    n = lengths.to(logps.dtype)
    return simpo_loss(logps[:, 0], logps[:, 1], n[:, 0], n[:, 1], simpo_beta, simpo_gamma, label_smoothing)


def orpo_from_batch(logps: torch.Tensor, ref: None, lengths: torch.Tensor, orpo_lambda: float = 0.1):
    """ORPO's lambda * L_OR over a batch: ``logps``, ``lengths`` (items, 2) in the order [chosen, rejected]."""
    n = lengths.to(logps.dtype)
    return orpo_loss(logps[:, 0], logps[:, 1], n[:, 0], n[:, 1], orpo_lambda)


def dpo_sft_term(logps: torch.Tensor, token_logps: torch.Tensor, lengths: torch.Tensor, slots: torch.Tensor):
    """DPO+SFT's term (TRL's "sft"), ORPO's L_SFT: token-mean NLL over the micro-batch's chosen (and general) responses.

    Input: ``logps``, ``lengths`` (items, 2); ``token_logps``, ``slots`` (N,) from packing.collate.
    """
    return sft_loss(token_logps, slots % logps.size(1) == 0)


def iopo_sft_term(logps: torch.Tensor, token_logps: torch.Tensor, lengths: torch.Tensor, slots: torch.Tensor):
    """IOPO's pref_ftx term: mean over items of -(A/|y1| + C/|y2|); a general item adds -logp/|y| (slot 0).

    Input: ``logps``, ``lengths`` (items, 4) in the order [A, B, C, D] (a general item: [logp, 0, 0, 0]).
    """
    cols = list(METHODS["iopo"].sft_slots)
    n = lengths[:, cols].to(logps.dtype)
    per_seq = torch.where(n > 0, -logps[:, cols] / n.clamp(min=1), torch.zeros_like(n))
    return per_seq.sum(1).mean()
