"""Losses: hand-derived numbers, a direct transcription of IOPO's formula, and TRL 1.16's DPOTrainer."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from followkit.train.losses import dpo_loss, iopo_loss, sft_loss

t = torch.tensor


def test_dpo_sigmoid_hand_derived():
    # lr(chosen) = -1 - (-1.5) = 0.5, lr(rejected) = -2 - (-1.5) = -0.5, margin 1.0
    loss, m = dpo_loss(t([-1.0]), t([-2.0]), t([-1.5]), t([-1.5]), beta=0.1)
    assert loss.item() == pytest.approx(-math.log(1 / (1 + math.exp(-0.1))), abs=1e-7)  # 0.644397
    assert loss.item() == pytest.approx(0.6443967, abs=1e-6)
    assert m["rewards/chosen"].item() == pytest.approx(0.05)
    assert m["rewards/rejected"].item() == pytest.approx(-0.05)
    assert m["rewards/margins"].item() == pytest.approx(0.1)
    assert m["rewards/accuracies"].item() == 1.0
    assert not m["rewards/chosen"].requires_grad


def test_dpo_label_smoothing_hinge_ipo_hand_derived():
    pc, pr, rc, rr = t([-1.0]), t([-2.0]), t([-1.5]), t([-1.5])
    smooth, _ = dpo_loss(pc, pr, rc, rr, beta=0.1, label_smoothing=0.2)
    # 0.8 * -log sigmoid(0.1) + 0.2 * -log sigmoid(-0.1) = 0.8*0.644397 + 0.2*0.744397
    assert smooth.item() == pytest.approx(0.8 * 0.6443967 + 0.2 * 0.7443967, abs=1e-6)
    hinge, _ = dpo_loss(pc, pr, rc, rr, beta=0.1, loss_type="hinge")
    assert hinge.item() == pytest.approx(0.9)  # relu(1 - 0.1 * 1.0)
    ipo, _ = dpo_loss(pc, pr, rc, rr, beta=0.1, loss_type="ipo")
    assert ipo.item() == pytest.approx(16.0)  # (1.0 - 1 / 0.2) ** 2
    # length-normalised (TRL 1.16): 0.5 / 2 - (-0.5 / 4) = 0.375 -> (0.375 - 5) ** 2
    ipo_n, _ = dpo_loss(
        pc, pr, rc, rr, beta=0.1, loss_type="ipo", chosen_lengths=t([2.0]), rejected_lengths=t([4.0])
    )
    assert ipo_n.item() == pytest.approx((0.375 - 5.0) ** 2)
    with pytest.raises(ValueError, match="loss_type"):
        dpo_loss(pc, pr, rc, rr, loss_type="kto")


def test_sft_loss_is_token_mean_over_batch():
    logps = t([[-1.0, -3.0, 0.0], [-2.0, 0.0, 0.0]])
    mask = t([[1, 1, 0], [1, 0, 0]])
    assert sft_loss(logps, mask).item() == pytest.approx(2.0)  # (1 + 3 + 2) / 3, not mean of (2, 2)


def _iopo_transcribed(A, B, C, D, Ar, Br, Cr, Dr, beta, eps, ablation):
    """DESIGN section 6, written out term by term."""

    def ell(z):
        return -(1 - eps) * F.logsigmoid(beta * z) - eps * F.logsigmoid(-beta * z)

    a, b, c, d = A - Ar, B - Br, C - Cr, D - Dr
    if ablation == "no_input_pref":
        return 0.5 * (ell(a - b) + ell(c - d))
    if ablation == "no_output_pref":
        return 0.5 * (ell(a - d) + ell(c - b))
    pi_1, pi_2 = 2 * A - B - D, 2 * C - D - B
    ref_1, ref_2 = 2 * Ar - Br - Dr, 2 * Cr - Dr - Br
    return ell(0.5 * ((pi_1 - ref_1) + (pi_2 - ref_2)))


@pytest.mark.parametrize("ablation", [None, "no_input_pref", "no_output_pref"])
@pytest.mark.parametrize(("beta", "eps"), [(0.1, 0.0), (0.5, 0.1), (0.05, 0.3)])
def test_iopo_matches_transcribed_formula(ablation, beta, eps):
    g = torch.Generator().manual_seed(7)
    tensors = [-50 * torch.rand(16, generator=g, dtype=torch.float64) for _ in range(8)]
    got, m = iopo_loss(*tensors, beta=beta, label_smoothing=eps, ablation=ablation)
    want = _iopo_transcribed(*tensors, beta=beta, eps=eps, ablation=ablation)
    assert torch.allclose(got, want, atol=1e-12, rtol=0)
    A, B, C, D, Ar, Br, Cr, Dr = tensors
    assert torch.allclose(m["rewards/A"], beta * (A - Ar))
    assert torch.equal(m["rewards/accuracies_x1"], (beta * (A - Ar) > beta * (B - Br)).to(torch.float64))
    assert torch.equal(m["rewards/accuracies_x2"], (beta * (C - Cr) > beta * (D - Dr)).to(torch.float64))


def test_iopo_hand_derived():
    z = t([0.0])
    # a = 1, others 0: full logits 0.5 * 2 = 1 -> -log sigmoid(0.1)
    full, _ = iopo_loss(t([1.0]), z, z, z, z, z, z, z, beta=0.1)
    assert full.item() == pytest.approx(0.6443967, abs=1e-6)
    # d = 1 only: full logits 0.5 * (-1 - 1) = -1
    _, m = iopo_loss(z, z, z, t([1.0]), z, z, z, z, beta=0.1)
    assert m["rewards/margins"].item() == pytest.approx(-0.1)
    with pytest.raises(ValueError, match="ablation"):
        iopo_loss(z, z, z, z, z, z, z, z, ablation="nope")


def test_iopo_ablations_hand_derived_are_separate_sigmoids():
    # a = 2, b = 1, c = d = 0, beta 1, with l(z) = softplus(-z):
    #   full:      logits 0.5 * ((4 - 1 - 0) + (0 - 0 - 1)) = 1      -> l(1)                = 0.3132617
    #   no input:  0.5 * (l(a - b) + l(c - d)) = 0.5 * (l(1) + l(0))  = 0.5 * (0.3132617 + 0.6931472)
    #   no output: 0.5 * (l(a - d) + l(c - b)) = 0.5 * (l(2) + l(-1)) = 0.5 * (0.1269280 + 1.3132617)
    # (One sigmoid over a regrouped sum would give l(0.5) = 0.4740770 for both ablations.)
    z = t([0.0], dtype=torch.float64)
    args = (t([2.0], dtype=torch.float64), t([1.0], dtype=torch.float64), z, z, z, z, z, z)
    full, _ = iopo_loss(*args, beta=1.0)
    no_in, m_in = iopo_loss(*args, beta=1.0, ablation="no_input_pref")
    no_out, m_out = iopo_loss(*args, beta=1.0, ablation="no_output_pref")
    assert full.item() == pytest.approx(0.3132617, abs=1e-7)
    assert no_in.item() == pytest.approx(0.5032044, abs=1e-7)
    assert no_out.item() == pytest.approx(0.7200948, abs=1e-7)
    # margins: beta times the mean of the sigmoids' logits
    assert m_in["rewards/margins"].item() == pytest.approx(0.5)
    assert m_out["rewards/margins"].item() == pytest.approx(0.5)
    # label smoothing applies inside each sigmoid: l(0) is log 2 whatever eps is
    no_in_s, _ = iopo_loss(*args, beta=1.0, label_smoothing=0.2, ablation="no_input_pref")
    l1 = 0.8 * 0.3132617 + 0.2 * 1.3132617
    assert no_in_s.item() == pytest.approx(0.5 * (l1 + math.log(2)), abs=1e-7)


def test_iopo_three_losses_differ_on_random_inputs():
    g = torch.Generator().manual_seed(11)
    tensors = [-20 * torch.rand(64, generator=g, dtype=torch.float64) for _ in range(8)]
    full, _ = iopo_loss(*tensors, beta=0.3)
    no_in, _ = iopo_loss(*tensors, beta=0.3, ablation="no_input_pref")
    no_out, _ = iopo_loss(*tensors, beta=0.3, ablation="no_output_pref")
    for x, y in ((full, no_in), (full, no_out), (no_in, no_out)):
        assert (x - y).abs().min() > 1e-9
    # nor is either ablation the full loss at some other beta: no beta' fits every group
    a, b, c, d = (tensors[i] - tensors[i + 4] for i in range(4))
    full_logits = a + c - b - d
    for abl in (no_in, no_out):
        # invert l(z) = softplus(-beta' * z) per group; a single beta' would make these all equal
        beta_implied = -torch.log(torch.expm1(abl)) / full_logits
        assert beta_implied.max() - beta_implied.min() > 1e-3


def _policy_and_ref(path):
    from transformers import AutoModelForCausalLM

    # float64 on both sides: summed log-probs near -400 would otherwise carry fp32 rounding
    # (~1e-4) into the comparison, which is about the code, not the precision.
    ref = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float64).eval()
    policy = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float64)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():  # move the policy away from the reference so the loss is not log 2
        for p in policy.parameters():
            p.add_(0.005 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return policy, ref


@pytest.mark.parametrize(
    ("loss_types", "weights"),
    [(["sigmoid"], None), (["sigmoid", "sft"], [1.0, 0.5]), (["ipo"], None), (["hinge"], None)],
)
def test_dpo_equals_trl_dpotrainer_loss(tiny, tmp_path, loss_types, weights):
    from datasets import Dataset
    from transformers import AutoTokenizer, TrainingArguments
    from trl import DPOConfig, DPOTrainer

    from followkit.train.config import TrainConfig
    from followkit.train.data import load_items
    from followkit.train.packing import collate
    from followkit.train.trainer import FollowkitTrainer

    data = "tests/fixtures/train_dpo.jsonl"
    records = [json.loads(line) for line in Path(data).read_text(encoding="utf-8").splitlines()][:4]
    tok = AutoTokenizer.from_pretrained(tiny)

    policy, ref = _policy_and_ref(tiny)
    trl_args = DPOConfig(
        output_dir=str(tmp_path / "trl"),
        beta=0.1,
        loss_type=loss_types,
        loss_weights=weights,
        report_to="none",
        max_length=None,
        use_cpu=True,
        bf16=False,  # TRL defaults to bf16 autocast; compare in full precision
    )
    trl = DPOTrainer(
        model=policy,
        ref_model=ref,
        args=trl_args,
        train_dataset=Dataset.from_list(records),
        processing_class=tok,
    )
    trl_batch = trl._prepare_inputs(trl.data_collator([trl.train_dataset[i] for i in range(4)]))
    with torch.no_grad():
        trl_loss = trl.compute_loss(trl.model, trl_batch).item()

    sft_weight = weights[1] if weights else 0.0
    settings = TrainConfig(
        method="dpo",
        data=data,
        out=str(tmp_path / "fk"),
        beta=0.1,
        sft_weight=sft_weight,
        loss_type=loss_types[0],
    )
    items, _ = load_items(data, "dpo", tok, max_length=2048, response_budget=256)
    policy2, ref2 = _policy_and_ref(tiny)
    fk = FollowkitTrainer(
        model=policy2,
        args=TrainingArguments(output_dir=str(tmp_path / "fk"), report_to="none", use_cpu=True),
        settings=settings,
        ref_model=ref2,
    )
    for packed in (True, False):
        with torch.no_grad():
            fk_loss = fk.compute_loss(
                policy2, collate(items[:4], packed=packed, pad_id=tok.pad_token_id)
            ).item()
        # TRL's fused head returns fp32 log-probs: at IPO's loss scale (~25) that is ~1e-6 relative.
        assert fk_loss == pytest.approx(trl_loss, abs=1e-5, rel=1e-6), (packed, fk_loss, trl_loss)
    assert (
        abs(trl_loss - {"sigmoid": math.log(2), "ipo": 25.0, "hinge": 1.0}[loss_types[0]]) > 1e-3
    )  # not trivial


def test_sft_equals_trl_sfttrainer_loss(tiny, tmp_path):
    from datasets import Dataset
    from transformers import AutoTokenizer, TrainingArguments
    from trl import SFTConfig, SFTTrainer

    from followkit.train.config import TrainConfig
    from followkit.train.data import load_items
    from followkit.train.packing import collate
    from followkit.train.trainer import FollowkitTrainer

    data = "tests/fixtures/train_sft.jsonl"
    records = [json.loads(line) for line in Path(data).read_text(encoding="utf-8").splitlines()][:4]
    # The same examples in TRL's prompt-completion form: the loss covers the completion only.
    trl_records = [{"prompt": r["messages"][:-1], "completion": r["messages"][-1:]} for r in records]
    tok = AutoTokenizer.from_pretrained(tiny)
    policy, _ = _policy_and_ref(tiny)
    args = SFTConfig(
        output_dir=str(tmp_path / "trl"), report_to="none", use_cpu=True, bf16=False, max_length=None
    )
    trl = SFTTrainer(
        model=policy, args=args, train_dataset=Dataset.from_list(trl_records), processing_class=tok
    )
    batch = trl._prepare_inputs(trl.data_collator([trl.train_dataset[i] for i in range(4)]))
    with torch.no_grad():
        trl_loss = trl.compute_loss(trl.model, batch).item()

    items, _ = load_items(data, "sft", tok, max_length=2048, response_budget=256)
    settings = TrainConfig(method="sft", data=data, out=str(tmp_path / "fk"))
    fk = FollowkitTrainer(
        model=policy,
        args=TrainingArguments(output_dir=str(tmp_path / "fk"), report_to="none", use_cpu=True),
        settings=settings,
    )
    with torch.no_grad():
        fk_loss = fk.compute_loss(policy, collate(items[:4], pad_id=tok.pad_token_id)).item()
    assert fk_loss == pytest.approx(trl_loss, abs=1e-5), (fk_loss, trl_loss)


# --- Reference-free losses (DESIGN 12): SimPO and ORPO -------------------------------------------


def test_simpo_hand_derived():
    from followkit.train.losses import simpo_loss

    # Two pairs, beta 2, gamma 1 (gamma/beta 0.5); summed log-probs and lengths in tokens:
    # pair 1: chosen -4 / 4 tokens = -1, rejected -12 / 6 = -2: z = 2 * (-1 - -2) - 1 = 1,
    #         loss = -log sigmoid(1) = log(1 + e^-1) = 0.3132617
    # pair 2: chosen -6 / 3 = -2, rejected -3 / 3 = -1: z = 2 * (-2 - -1) - 1 = -3,
    #         loss = -log sigmoid(-3) = log(1 + e^3) = 3.0485874
    chosen, rejected, n_c, n_r = t([-4.0, -6.0]), t([-12.0, -3.0]), t([4.0, 3.0]), t([6.0, 3.0])
    loss, m = simpo_loss(chosen, rejected, n_c, n_r, beta=2.0, gamma=1.0)
    assert loss.tolist() == pytest.approx([0.3132617, 3.0485874], abs=1e-6)
    assert m["rewards/chosen"].tolist() == pytest.approx([-2.0, -4.0])  # beta * logp / |y|
    assert m["rewards/rejected"].tolist() == pytest.approx([-4.0, -2.0])
    assert m["rewards/margins"].tolist() == pytest.approx([2.0, -2.0])
    assert m["rewards/accuracies"].tolist() == [1.0, 0.0]
    # label smoothing 0.1 on pair 1: -log sigmoid(-z) = -log sigmoid(z) + z, so
    # 0.9 * 0.3132617 + 0.1 * (0.3132617 + 1) = 0.4132617
    smooth, _ = simpo_loss(
        chosen[:1], rejected[:1], n_c[:1], n_r[:1], beta=2.0, gamma=1.0, label_smoothing=0.1
    )
    assert smooth.item() == pytest.approx(0.4132617, abs=1e-6)
    # no reference anywhere: summed log-probs alone, and the length normalisation matters
    unnormalised, _ = simpo_loss(chosen, rejected, torch.ones(2), torch.ones(2), beta=2.0, gamma=1.0)
    assert not torch.allclose(unnormalised, loss)


def test_orpo_hand_derived():
    from followkit.train.losses import orpo_loss

    # lambda 0.1. P = exp(mean per-token log-prob), odds = P / (1 - P):
    # pair 1: chosen 2 tokens at log 0.5 (P 0.5, odds 1), rejected 4 at log 0.2 (P 0.2, odds 0.25):
    #         log odds ratio = log 4, L_OR = -log sigmoid(log 4) = -log(4/5) = log 1.25 = 0.2231436
    # pair 2: chosen 4 at log 0.2, rejected 2 at log 0.5: log odds ratio = -log 4,
    #         L_OR = -log sigmoid(-log 4) = -log(1/5) = log 5 = 1.6094379
    half, fifth = math.log(0.5), math.log(0.2)
    chosen, rejected = t([2 * half, 4 * fifth]), t([4 * fifth, 2 * half])
    loss, m = orpo_loss(chosen, rejected, t([2.0, 4.0]), t([4.0, 2.0]), lam=0.1)
    assert loss.tolist() == pytest.approx([0.02231436, 0.16094379], abs=1e-6)  # lambda * L_OR
    assert m["log_odds_chosen"].tolist() == pytest.approx([math.log(4), -math.log(4)], abs=1e-6)
    assert m["log_odds_ratio"].tolist() == pytest.approx([math.log(0.8), math.log(0.2)], abs=1e-6)
    assert m["rewards/chosen"].tolist() == pytest.approx([0.1 * half, 0.1 * fifth])  # lambda * mean logp
    assert m["rewards/accuracies"].tolist() == [1.0, 0.0]


def test_orpo_batch_loss_adds_the_sft_term_on_the_chosen():
    from followkit.train.config import TrainConfig
    from followkit.train.trainer import batch_loss

    # The pairs of test_orpo_hand_derived as packed tokens; slots: item * 2 + (0 chosen, 1 rejected).
    half, fifth = math.log(0.5), math.log(0.2)
    token_logps = t([half] * 2 + [fifth] * 4 + [fifth] * 4 + [half] * 2)
    slots = t([0] * 2 + [1] * 4 + [2] * 4 + [3] * 2)
    logps = t([[2 * half, 4 * fifth], [4 * fifth, 2 * half]])
    inputs = {"lengths": t([[2, 4], [4, 2]]), "slots": slots}
    settings = TrainConfig(method="orpo", data="x", out="o")  # orpo_lambda 0.1
    loss, m = batch_loss(settings, logps, token_logps, None, inputs)
    # L_SFT: token mean over the 6 chosen tokens = -(2 log 0.5 + 4 log 0.2) / 6 = 7.8240460 / 6 = 1.3040077
    # lambda * L_OR: mean of 0.02231436 and 0.16094379 = 0.09162907; total 1.3956368
    assert m["loss/sft"].item() == pytest.approx(1.3040077, abs=1e-6)
    assert m["loss/preference"].item() == pytest.approx(0.09162907, abs=1e-6)
    assert loss.item() == pytest.approx(1.3956368, abs=1e-6)
    assert "logps/ref" not in m  # reference-free


def test_simpo_batch_loss_reads_its_settings_and_no_reference():
    from followkit.train.config import TrainConfig
    from followkit.train.trainer import batch_loss

    logps, lengths = t([[-4.0, -12.0], [-6.0, -3.0]]), t([[4, 6], [3, 3]])
    settings = TrainConfig(method="simpo", data="x", out="o")  # simpo_beta 2, simpo_gamma 1
    loss, m = batch_loss(settings, logps, torch.zeros(1), None, {"lengths": lengths, "slots": torch.zeros(1)})
    assert loss.item() == pytest.approx((0.3132617 + 3.0485874) / 2, abs=1e-6)  # test_simpo_hand_derived
    assert "loss/sft" not in m and "logps/ref" not in m
    settings = TrainConfig(method="simpo", data="x", out="o", simpo_beta=1.0, simpo_gamma=0.0)
    loss, _ = batch_loss(settings, logps, torch.zeros(1), None, {"lengths": lengths, "slots": torch.zeros(1)})
    # z = 1 and -1: (-log sigmoid(1) - log sigmoid(-1)) / 2 = (0.3132617 + 1.3132617) / 2
    assert loss.item() == pytest.approx(0.8132617, abs=1e-6)


def _trl_self(**attrs):
    """A stand-in `self` for TRL's loss methods, called unbound: only the attributes they read."""
    from types import SimpleNamespace

    return SimpleNamespace(accelerator=SimpleNamespace(device=torch.device("cpu")), **attrs)


@pytest.mark.parametrize(("beta", "gamma", "eps"), [(2.0, 1.0, 0.0), (2.5, 1.375, 0.0), (1.0, 0.5, 0.2)])
def test_simpo_equals_trl_cpotrainer_cpo_loss(beta, gamma, eps):
    # TRL 1.16's CPOTrainer.cpo_loss (loss_type="simpo", cpo_alpha=0: pure SimPO; alpha=0: no AlphaPO),
    # called unbound on a stand-in self without building a trainer. TRL's concatenated_forward
    # passes it the average per-token log-probs when loss_type is "simpo", so it gets logp / |y|.
    from trl.experimental.cpo.cpo_trainer import CPOTrainer

    from followkit.train.losses import simpo_loss

    g = torch.Generator().manual_seed(0)
    n_c, n_r = (
        torch.randint(1, 40, (16,), generator=g).float(),
        torch.randint(1, 40, (16,), generator=g).float(),
    )
    chosen, rejected = -torch.rand(16, generator=g) * 3 * n_c, -torch.rand(16, generator=g) * 3 * n_r
    me, m = simpo_loss(chosen, rejected, n_c, n_r, beta=beta, gamma=gamma, label_smoothing=eps)
    trl_self = _trl_self(alpha=0.0, loss_type="simpo", beta=beta, simpo_gamma=gamma, label_smoothing=eps)
    theirs, chosen_r, rejected_r = CPOTrainer.cpo_loss(trl_self, chosen / n_c, rejected / n_r)
    torch.testing.assert_close(me, theirs, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(m["rewards/chosen"], chosen_r)
    torch.testing.assert_close(m["rewards/rejected"], rejected_r)


@pytest.mark.parametrize("lam", [0.1, 0.5])
def test_orpo_equals_trl_orpotrainer_odds_ratio_loss(lam):
    # TRL 1.16's ORPOTrainer.odds_ratio_loss, called unbound on a stand-in self (beta is our lambda);
    # its concatenated_forward passes mean per-token log-probs, and its loss is nll - losses.mean(),
    # so our per-pair term is minus theirs. Some pairs have P close to 1 (the log1mexp branch).
    from trl.experimental.orpo.orpo_trainer import ORPOTrainer

    from followkit.train.losses import orpo_loss

    g = torch.Generator().manual_seed(1)
    n_c, n_r = (
        torch.randint(1, 40, (16,), generator=g).float(),
        torch.randint(1, 40, (16,), generator=g).float(),
    )
    mean_c, mean_r = -torch.rand(16, generator=g) * 2, -torch.rand(16, generator=g) * 2
    mean_c[:3] = t([-1e-4, -0.01, -0.69])
    me, m = orpo_loss(mean_c * n_c, mean_r * n_r, n_c, n_r, lam=lam)
    theirs, chosen_r, rejected_r, ratio, log_odds = ORPOTrainer.odds_ratio_loss(
        _trl_self(beta=lam), mean_c, mean_r
    )
    torch.testing.assert_close(me, -theirs, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(m["rewards/chosen"], chosen_r, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(m["rewards/rejected"], rejected_r, rtol=1e-5, atol=1e-6)
    assert m["log_odds_ratio"].mean().item() == pytest.approx(ratio.item(), abs=1e-5)
    assert m["log_odds_chosen"].mean().item() == pytest.approx(log_odds.item(), abs=1e-5)
